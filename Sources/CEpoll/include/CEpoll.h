// CEpoll: the thinnest possible C layer under Wire.
//
// Everything here exists because Swift cannot call it directly or cannot call it safely:
// - `struct epoll_event` is declared `__attribute__((packed))` on x86_64, which Swift imports
//   with the wrong layout, so registration and waiting go through functions that take and
//   return plain scalars.
// - `accept4`, `eventfd`, `timerfd_*` and several socket option constants are behind
//   `_GNU_SOURCE` or are macros.
// No logic lives here beyond marshalling.
#ifndef CEPOLL_H
#define CEPOLL_H

#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <sys/socket.h>

/// One readiness event, unpacked.
typedef struct {
    uint32_t events;
    uint64_t data;
} CEpoll_event;

extern const uint32_t CEpoll_EPOLLIN;
extern const uint32_t CEpoll_EPOLLOUT;
extern const uint32_t CEpoll_EPOLLERR;
extern const uint32_t CEpoll_EPOLLHUP;
extern const uint32_t CEpoll_EPOLLRDHUP;
extern const uint32_t CEpoll_EPOLLET;

int CEpoll_create(void);
/// op: 1 add, 2 del, 3 mod (EPOLL_CTL_*).
int CEpoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data);
/// Waits and unpacks up to `max` events into `out`. Returns the count or -1 with errno.
int CEpoll_wait(int epfd, CEpoll_event *out, int max, int timeout_ms);

/// Non-blocking, close-on-exec eventfd.
int CEpoll_eventfd(void);
int CEpoll_eventfd_signal(int fd);
int CEpoll_eventfd_drain(int fd);

/// Non-blocking monotonic timerfd; arm with an absolute CLOCK_MONOTONIC deadline in ns (0 disarms).
int CEpoll_timerfd(void);
int CEpoll_timerfd_arm(int fd, uint64_t deadline_ns);
int CEpoll_timerfd_drain(int fd);

/// CLOCK_MONOTONIC and CLOCK_REALTIME in nanoseconds.
uint64_t CEpoll_monotonic_ns(void);
uint64_t CEpoll_realtime_ns(void);

/// accept4 with SOCK_NONBLOCK | SOCK_CLOEXEC.
int CEpoll_accept(int fd, struct sockaddr *addr, socklen_t *len);
/// socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0).
int CEpoll_socket(int domain, int type);

int CEpoll_set_reuseport(int fd, int on);
int CEpoll_set_reuseaddr(int fd, int on);
int CEpoll_set_nodelay(int fd, int on);
int CEpoll_set_sndbuf(int fd, int bytes);
int CEpoll_set_rcvbuf(int fd, int bytes);
int CEpoll_set_linger_zero(int fd);
int CEpoll_set_nonblocking(int fd);
/// SO_ERROR, for completing a non-blocking connect.
int CEpoll_socket_error(int fd);

/// writev with MSG_NOSIGNAL semantics (sendmsg), so a closed peer gives EPIPE, not SIGPIPE.
ssize_t CEpoll_writev(int fd, const struct iovec *iov, int iovcnt);
ssize_t CEpoll_send(int fd, const void *buf, size_t len);
/// SO_TIMESTAMPNS: the kernel stamps received data with its arrival time (CLOCK_REALTIME).
int CEpoll_set_timestampns(int fd, int on);
/// recvmsg(2) into one buffer; *arrival_ns = the kernel's arrival time of the last segment read
/// (CLOCK_REALTIME ns; 0 when none was given).
ssize_t CEpoll_read_timestamped(int fd, void *buf, size_t len, uint64_t *arrival_ns);

extern const int CEpoll_IOV_MAX;

/// pthread_setname_np for the calling thread (Glibc does not export it to Swift).
int CEpoll_set_thread_name(const char *name);

#endif
