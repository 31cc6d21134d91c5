/**
 * IP allow and deny lists (CIDR) for the whole gateway, per listener and per route, from configuration or from files
 * reloaded when they change. See {@link dev.torii.access.AccessControl}.
 */
package dev.torii.access;
