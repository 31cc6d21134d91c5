/** The maintenance switch: answer every request with 503 and a page while it is on. See {@link MaintenanceMode}. */
package dev.torii.maintenance;
