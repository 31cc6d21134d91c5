package dev.torii.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A throw-away certificate authority made with the real {@code openssl} CLI, and leaf certificates it issues for
 * given names: what a test needs for TLS listeners (SNI), TLS upstreams (verification against a custom CA) and real
 * clients ({@code curl --cacert}, h2load). Keys are EC P-256 in PKCS#8 PEM, certificates PEM; a leaf's {@code cert}
 * file holds the chain (leaf, then the CA). Each name becomes a subjectAltName: an IP address when it is an IP
 * literal, a DNS name otherwise.
 */
public final class TestCertificates implements AutoCloseable {
    private final String openssl;
    private final Path dir;
    private final Path caCert;
    private final Path caKey;
    private int serial;

    /** One issued certificate: the PEM chain (leaf first) and its PKCS#8 PEM private key. */
    public record Issued(Path cert, Path key) {}

    private TestCertificates(String openssl, Path dir) throws IOException {
        this.openssl = openssl;
        this.dir = dir;
        this.caKey = dir.resolve("ca.key");
        this.caCert = dir.resolve("ca.pem");
        run(openssl, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", caKey.toString());
        run(
                openssl,
                "req",
                "-x509",
                "-new",
                "-key",
                caKey.toString(),
                "-days",
                "2",
                "-subj",
                "/CN=Torii Test CA " + dir.getFileName(),
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign,cRLSign",
                "-out",
                caCert.toString());
    }

    /** A new CA in a new temporary directory; {@link #close()} deletes it. */
    public static TestCertificates create() throws IOException {
        String openssl = ExternalProcesses.find("openssl", "openssl", "TLS tests");
        return new TestCertificates(openssl, Files.createTempDirectory("torii-certs-"));
    }

    /** The CA certificate (PEM), to trust in clients and upstream TLS settings. */
    public Path caCert() {
        return caCert;
    }

    /** The directory holding every file. */
    public Path directory() {
        return dir;
    }

    /** A leaf certificate for {@code names} (the first is the subject CN), signed by this CA, valid for two days. */
    public synchronized Issued issue(String... names) throws IOException {
        if (names.length == 0) {
            throw new IllegalArgumentException("issue(): at least one name");
        }
        String base = "leaf-" + (++serial) + "-" + names[0].replaceAll("[^A-Za-z0-9.-]", "_");
        Path key = dir.resolve(base + ".key");
        Path csr = dir.resolve(base + ".csr");
        Path leaf = dir.resolve(base + ".leaf.pem");
        Path chain = dir.resolve(base + ".pem");
        Path ext = dir.resolve(base + ".ext");
        List<String> sans = new ArrayList<>();
        for (String n : names) {
            sans.add((n.matches("[0-9.]+") || n.contains(":") ? "IP:" : "DNS:") + n);
        }
        Files.writeString(
                ext,
                "subjectAltName=" + String.join(",", sans) + "\n"
                        + "basicConstraints=critical,CA:FALSE\n"
                        + "keyUsage=critical,digitalSignature\n"
                        + "extendedKeyUsage=serverAuth,clientAuth\n");
        run(openssl, "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", key.toString());
        run(openssl, "req", "-new", "-key", key.toString(), "-subj", "/CN=" + names[0], "-out", csr.toString());
        run(
                openssl,
                "x509",
                "-req",
                "-in",
                csr.toString(),
                "-CA",
                caCert.toString(),
                "-CAkey",
                caKey.toString(),
                "-set_serial",
                Integer.toString(1000 + serial),
                "-days",
                "2",
                "-extfile",
                ext.toString(),
                "-out",
                leaf.toString());
        Files.writeString(
                chain,
                Files.readString(leaf, StandardCharsets.US_ASCII) + Files.readString(caCert, StandardCharsets.US_ASCII),
                StandardCharsets.US_ASCII);
        return new Issued(chain, key);
    }

    @Override
    public void close() {
        ExternalProcesses.deleteQuietly(dir);
    }

    private void run(String... command) throws IOException {
        Process p = new ProcessBuilder(command)
                .redirectErrorStream(true)
                .redirectOutput(dir.resolve("openssl.log").toFile())
                .start();
        try {
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new IOException("openssl did not finish in 30 s: " + String.join(" ", command));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted running openssl", e);
        }
        if (p.exitValue() != 0) {
            throw new IOException("openssl failed (exit " + p.exitValue() + "): " + String.join(" ", command) + "\n"
                    + Files.readString(dir.resolve("openssl.log")));
        }
    }
}
