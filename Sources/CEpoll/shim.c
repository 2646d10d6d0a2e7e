// See CEpoll.h for why each function exists.
#include "CEpoll.h"
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <fcntl.h>
#include <limits.h>
#include <time.h>
#include <unistd.h>
#include <errno.h>
#include <string.h>
#include <pthread.h>

const uint32_t CEpoll_EPOLLIN = EPOLLIN;
const uint32_t CEpoll_EPOLLOUT = EPOLLOUT;
const uint32_t CEpoll_EPOLLERR = EPOLLERR;
const uint32_t CEpoll_EPOLLHUP = EPOLLHUP;
const uint32_t CEpoll_EPOLLRDHUP = EPOLLRDHUP;
const uint32_t CEpoll_EPOLLET = EPOLLET;
const int CEpoll_IOV_MAX = IOV_MAX;

int CEpoll_create(void) { return epoll_create1(EPOLL_CLOEXEC); }

int CEpoll_ctl(int epfd, int op, int fd, uint32_t events, uint64_t data) {
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = events;
    ev.data.u64 = data;
    return epoll_ctl(epfd, op, fd, &ev);
}

int CEpoll_wait(int epfd, CEpoll_event *out, int max, int timeout_ms) {
    struct epoll_event evs[1024];
    if (max > 1024) max = 1024;
    int n = epoll_wait(epfd, evs, max, timeout_ms);
    for (int i = 0; i < n; i++) {
        out[i].events = evs[i].events;
        out[i].data = evs[i].data.u64;
    }
    return n;
}

int CEpoll_eventfd(void) { return eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC); }
int CEpoll_eventfd_signal(int fd) { uint64_t one = 1; return (int)write(fd, &one, sizeof one); }
int CEpoll_eventfd_drain(int fd) { uint64_t v; return (int)read(fd, &v, sizeof v); }

int CEpoll_timerfd(void) { return timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC); }
int CEpoll_timerfd_arm(int fd, uint64_t deadline_ns) {
    struct itimerspec its;
    memset(&its, 0, sizeof its);
    its.it_value.tv_sec = (time_t)(deadline_ns / 1000000000ull);
    its.it_value.tv_nsec = (long)(deadline_ns % 1000000000ull);
    return timerfd_settime(fd, TFD_TIMER_ABSTIME, &its, NULL);
}
int CEpoll_timerfd_drain(int fd) { uint64_t v; return (int)read(fd, &v, sizeof v); }

uint64_t CEpoll_monotonic_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}
uint64_t CEpoll_realtime_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

int CEpoll_accept(int fd, struct sockaddr *addr, socklen_t *len) {
    return accept4(fd, addr, len, SOCK_NONBLOCK | SOCK_CLOEXEC);
}
int CEpoll_socket(int domain, int type) { return socket(domain, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0); }

static int setint(int fd, int level, int opt, int v) { return setsockopt(fd, level, opt, &v, sizeof v); }
int CEpoll_set_reuseport(int fd, int on) { return setint(fd, SOL_SOCKET, SO_REUSEPORT, on); }
int CEpoll_set_reuseaddr(int fd, int on) { return setint(fd, SOL_SOCKET, SO_REUSEADDR, on); }
int CEpoll_set_nodelay(int fd, int on) { return setint(fd, IPPROTO_TCP, TCP_NODELAY, on); }
int CEpoll_set_sndbuf(int fd, int bytes) { return setint(fd, SOL_SOCKET, SO_SNDBUF, bytes); }
int CEpoll_set_rcvbuf(int fd, int bytes) { return setint(fd, SOL_SOCKET, SO_RCVBUF, bytes); }
int CEpoll_set_linger_zero(int fd) {
    struct linger l = { .l_onoff = 1, .l_linger = 0 };
    return setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
}
int CEpoll_set_nonblocking(int fd) {
    int fl = fcntl(fd, F_GETFL, 0);
    if (fl < 0) return -1;
    return fcntl(fd, F_SETFL, fl | O_NONBLOCK);
}
int CEpoll_socket_error(int fd) {
    int err = 0;
    socklen_t len = sizeof err;
    if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) return errno;
    return err;
}

ssize_t CEpoll_writev(int fd, const struct iovec *iov, int iovcnt) {
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = (struct iovec *)iov;
    msg.msg_iovlen = (size_t)iovcnt;
    return sendmsg(fd, &msg, MSG_NOSIGNAL);
}
ssize_t CEpoll_send(int fd, const void *buf, size_t len) { return send(fd, buf, len, MSG_NOSIGNAL); }

int CEpoll_set_timestampns(int fd, int on) { return setint(fd, SOL_SOCKET, SO_TIMESTAMPNS, on); }

ssize_t CEpoll_read_timestamped(int fd, void *buf, size_t len, uint64_t *arrival_ns) {
    struct iovec iov = { .iov_base = buf, .iov_len = len };
    union { char buf[CMSG_SPACE(sizeof(struct timespec))]; struct cmsghdr align; } ctrl;
    struct msghdr msg;
    memset(&msg, 0, sizeof msg);
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = ctrl.buf;
    msg.msg_controllen = sizeof ctrl.buf;
    ssize_t n = recvmsg(fd, &msg, 0);
    *arrival_ns = 0;
    if (n > 0) {
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c != NULL; c = CMSG_NXTHDR(&msg, c)) {
            if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_TIMESTAMPNS) {
                struct timespec ts;
                memcpy(&ts, CMSG_DATA(c), sizeof ts);
                *arrival_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
            }
        }
    }
    return n;
}

int CEpoll_set_thread_name(const char *name) { return pthread_setname_np(pthread_self(), name); }
