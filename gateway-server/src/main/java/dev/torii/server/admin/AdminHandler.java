package dev.torii.server.admin;

/**
 * One endpoint of the admin API. Runs on the admin server's own thread, never on a proxy or DNS event loop; it may do
 * a little blocking work (read a file, take a snapshot) but should answer in milliseconds, since endpoints are served
 * one at a time.
 */
@FunctionalInterface
public interface AdminHandler {
    /** Answers {@code request}; an exception becomes a 500 with its message. */
    AdminResponse handle(AdminRequest request) throws Exception;
}
