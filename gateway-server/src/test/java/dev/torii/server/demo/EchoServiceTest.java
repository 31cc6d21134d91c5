package dev.torii.server.demo;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class EchoServiceTest {
    private EchoService echo;

    @BeforeEach
    void start() {
        echo = EchoService.start("127.0.0.1", 0);
    }

    @AfterEach
    void stop() {
        echo.close();
    }

    @Test
    void answersEveryRequestOnAKeepAliveConnectionWithWhatItReceived() throws IOException {
        try (Socket s = new Socket("127.0.0.1", echo.address().getPort())) {
            s.setSoTimeout(5000);
            OutputStream out = s.getOutputStream();
            InputStream in = s.getInputStream();

            out.write(ascii("GET /hello?x=1 HTTP/1.1\r\nHost: example.com\r\nX-Forwarded-For: 10.1.2.3\r\n\r\n"));
            String first = readResponse(in);
            assertThat(first)
                    .startsWith("HTTP/1.1 200 OK\r\n")
                    .containsIgnoringCase("content-type: text/plain")
                    .doesNotContainIgnoringCase("connection: close")
                    .endsWith("GET /hello?x=1 HTTP/1.1\nHost: example.com\nX-Forwarded-For: 10.1.2.3\n\nbody: 0"
                            + " bytes\n");

            out.write(ascii("POST /upload HTTP/1.1\r\nHost: example.com\r\nContent-Length: 11\r\n\r\nhello world"));
            assertThat(readResponse(in))
                    .startsWith("HTTP/1.1 200 OK")
                    .contains("POST /upload")
                    .endsWith("body: 11 bytes\n");

            out.write(ascii("PUT /chunks HTTP/1.1\r\nHost: example.com\r\nTransfer-Encoding: chunked\r\n\r\n"
                    + "5\r\nhello\r\n3\r\nabc\r\n0\r\n\r\n"));
            assertThat(readResponse(in)).contains("PUT /chunks").endsWith("body: 8 bytes\n");

            out.write(ascii("GET /last HTTP/1.1\r\nHost: example.com\r\nConnection: close\r\n\r\n"));
            assertThat(readResponse(in))
                    .containsIgnoringCase("connection: close")
                    .contains("GET /last");
            assertThat(in.read())
                    .as("the service closes after Connection: close")
                    .isEqualTo(-1);
        }
    }

    @Test
    void answersExpectContinueBeforeTheBody() throws IOException {
        try (Socket s = new Socket("127.0.0.1", echo.address().getPort())) {
            s.setSoTimeout(5000);
            s.getOutputStream()
                    .write(ascii("POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n"));
            assertThat(readLine(s.getInputStream())).isEqualTo("HTTP/1.1 100 Continue");
            assertThat(readLine(s.getInputStream())).isEmpty();
            s.getOutputStream().write(ascii("abc"));
            assertThat(readResponse(s.getInputStream()))
                    .startsWith("HTTP/1.1 200 OK")
                    .endsWith("body: 3 bytes\n");
        }
    }

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    /** Reads one response with a Content-Length body; returns head and body as text. */
    private static String readResponse(InputStream in) throws IOException {
        StringBuilder head = new StringBuilder();
        int length = -1;
        for (String line = readLine(in); !line.isEmpty(); line = readLine(in)) {
            head.append(line).append("\r\n");
            if (line.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
                length = Integer.parseInt(
                        line.substring("content-length:".length()).strip());
            }
        }
        assertThat(length).as("Content-Length in " + head).isNotNegative();
        byte[] body = in.readNBytes(length);
        return head + "\r\n" + new String(body, StandardCharsets.UTF_8);
    }

    private static String readLine(InputStream in) throws IOException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        for (int b = in.read(); b != '\n'; b = in.read()) {
            if (b < 0) {
                throw new IOException("connection closed in a line: " + line);
            }
            if (b != '\r') {
                line.write(b);
            }
        }
        return line.toString(StandardCharsets.US_ASCII);
    }
}
