/* Service manager readiness notifications (the NOTIFY_SOCKET datagram protocol of systemd Type=notify). */
#ifndef SS_FCGI_NOTIFY_H
#define SS_FCGI_NOTIFY_H

/* Send state text (e.g. "READY=1") to $NOTIFY_SOCKET when it is set; a no-op otherwise. Never fails the
 * caller: returns 0 when sent or not configured, -1 when sending failed. */
int ss_notify(const char *state);

#endif
