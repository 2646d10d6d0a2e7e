// floor: what one hot-symbol update costs the kernel on this machine, without any of our code.
//
// Writer threads send one small message (default 120 bytes, a quote frame) to each of N loopback
// TCP connections in a tight loop, as a fanout node does when a symbol held by N clients moves;
// reader threads read them back through epoll, as the load harness does. For each burst it
// reports how long the writes took, when the last byte was read, and the CPU time the writers and
// readers spent per message. This is the floor under the fanout's tail latency: no server on this
// machine delivers one update to N loopback clients faster than these loops write N messages.
//
//   cc -O2 -pthread -o floor floor.c && ./floor 9600 30 120 2 2
//   (connections, bursts, message bytes, writer threads, reader threads)
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int n, bursts, size, writers, readers;
static int *srv, *cli;
static char *msg;
static pthread_barrier_t start, done;
static _Atomic int stop;
static _Atomic uint64_t writerCpuNs, readerCpuNs;

typedef struct {
    int id, epfd;
    _Atomic uint64_t lastReadNs;  // when this reader read the last byte of its share of a burst
    _Atomic int burstsRead;       // bursts this reader read completely (published after lastReadNs)
} Reader;
static Reader *rd;

static uint64_t now(clockid_t c) {
    struct timespec t;
    clock_gettime(c, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static void die(const char *what) {
    perror(what);
    exit(1);
}

// Connections [lo, hi) of `part` out of `parts`.
static void slice(int part, int parts, int *lo, int *hi) {
    *lo = (int)((long)n * part / parts);
    *hi = (int)((long)n * (part + 1) / parts);
}

static void *reader(void *arg) {
    Reader *r = arg;
    int lo, hi;
    slice(r->id, readers, &lo, &hi);
    uint64_t share = (uint64_t)(hi - lo) * (uint64_t)size, total = 0;
    struct epoll_event ev[512];
    char buf[65536];
    uint64_t cpu0 = now(CLOCK_THREAD_CPUTIME_ID);
    while (!atomic_load(&stop)) {
        int k = epoll_wait(r->epfd, ev, 512, 100);
        for (int i = 0; i < k; i++) {
            ssize_t got = read(ev[i].data.fd, buf, sizeof buf);
            if (got <= 0) continue;
            total += (uint64_t)got;
            if (share > 0 && total % share == 0) {
                atomic_store(&r->lastReadNs, now(CLOCK_MONOTONIC));
                atomic_fetch_add(&r->burstsRead, 1);
            }
        }
    }
    atomic_fetch_add(&readerCpuNs, now(CLOCK_THREAD_CPUTIME_ID) - cpu0);
    return NULL;
}

static void *writer(void *arg) {
    int id = (int)(long)arg, lo, hi;
    slice(id, writers, &lo, &hi);
    uint64_t cpu = 0;
    for (int b = -3; b < bursts; b++) {
        pthread_barrier_wait(&start);
        uint64_t c0 = now(CLOCK_THREAD_CPUTIME_ID);
        for (int i = lo; i < hi; i++)
            if (write(srv[i], msg, (size_t)size) != size) die("write");
        if (b >= 0) cpu += now(CLOCK_THREAD_CPUTIME_ID) - c0;
        pthread_barrier_wait(&done);
    }
    atomic_fetch_add(&writerCpuNs, cpu);
    return NULL;
}

static int cmp(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv) {
    n = argc > 1 ? atoi(argv[1]) : 9600;
    bursts = argc > 2 ? atoi(argv[2]) : 30;
    size = argc > 3 ? atoi(argv[3]) : 120;
    writers = argc > 4 ? atoi(argv[4]) : 1;
    readers = argc > 5 ? atoi(argv[5]) : 1;
    if (n < 1 || bursts < 1 || size < 1 || size > 65536 || writers < 1 || readers < 1 || writers > n || readers > n) {
        fprintf(stderr, "usage: floor [connections] [bursts] [message bytes] [writer threads] [reader threads]\n");
        return 2;
    }
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
    if ((rlim_t)(2 * n + 16) > rl.rlim_cur) {
        fprintf(stderr, "floor: %d connections need %d descriptors, the limit is %llu\n", n, 2 * n + 16,
                (unsigned long long)rl.rlim_cur);
        return 1;
    }
    srv = calloc((size_t)n, sizeof *srv);
    cli = calloc((size_t)n, sizeof *cli);
    rd = calloc((size_t)readers, sizeof *rd);
    int l = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof a;
    if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 4096) || getsockname(l, (struct sockaddr *)&a, &al))
        die("listen");
    for (int r = 0; r < readers; r++) {
        rd[r].id = r;
        if ((rd[r].epfd = epoll_create1(0)) < 0) die("epoll_create1");
    }
    int one = 1;
    for (int i = 0; i < n; i++) {
        cli[i] = socket(AF_INET, SOCK_STREAM, 0);
        if (cli[i] < 0 || connect(cli[i], (struct sockaddr *)&a, sizeof a)) die("connect");
        srv[i] = accept(l, NULL, NULL);
        if (srv[i] < 0) die("accept");
        setsockopt(srv[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        int r = (int)((long)i * readers / n);
        while (r + 1 < readers && (long)n * (r + 1) / readers <= i) r++;
        struct epoll_event e = {.events = EPOLLIN, .data.fd = cli[i]};
        if (epoll_ctl(rd[r].epfd, EPOLL_CTL_ADD, cli[i], &e)) die("epoll_ctl");
    }
    msg = malloc((size_t)size);
    memset(msg, 'x', (size_t)size);
    pthread_barrier_init(&start, NULL, (unsigned)writers + 1);
    pthread_barrier_init(&done, NULL, (unsigned)writers + 1);
    pthread_t rt[readers], wt[writers];
    for (int r = 0; r < readers; r++) pthread_create(&rt[r], NULL, reader, &rd[r]);
    for (int w = 0; w < writers; w++) pthread_create(&wt[w], NULL, writer, (void *)(long)w);
    uint64_t *writeNs = calloc((size_t)bursts, sizeof *writeNs), *burstNs = calloc((size_t)bursts, sizeof *burstNs);
    for (int b = -3; b < bursts; b++) {  // three warm-up bursts
        usleep(20000);
        uint64_t t0 = now(CLOCK_MONOTONIC);
        pthread_barrier_wait(&start);
        pthread_barrier_wait(&done);
        uint64_t t1 = now(CLOCK_MONOTONIC), last = 0;
        for (int r = 0; r < readers; r++) {
            int lo, hi;
            slice(r, readers, &lo, &hi);
            if (hi == lo) continue;
            while (atomic_load(&rd[r].burstsRead) < b + 4) usleep(50);
            uint64_t t = atomic_load(&rd[r].lastReadNs);
            if (t > last) last = t;
        }
        if (b >= 0) {
            writeNs[b] = t1 - t0;
            burstNs[b] = last - t0;
        }
    }
    atomic_store(&stop, 1);
    for (int w = 0; w < writers; w++) pthread_join(wt[w], NULL);
    for (int r = 0; r < readers; r++) pthread_join(rt[r], NULL);
    qsort(writeNs, (size_t)bursts, sizeof *writeNs, cmp);
    qsort(burstNs, (size_t)bursts, sizeof *burstNs, cmp);
    double msgs = (double)n * bursts;
    printf("connections %d  bursts %d  message %d bytes  writers %d  readers %d  (loopback TCP, TCP_NODELAY, readers on epoll)\n",
           n, bursts, size, writers, readers);
    printf("writes of one burst   median %.2f ms  p90 %.2f ms  max %.2f ms\n", writeNs[bursts / 2] / 1e6,
           writeNs[bursts * 9 / 10] / 1e6, writeNs[bursts - 1] / 1e6);
    printf("last byte read        median %.2f ms  p90 %.2f ms  max %.2f ms  (from the start of the burst)\n",
           burstNs[bursts / 2] / 1e6, burstNs[bursts * 9 / 10] / 1e6, burstNs[bursts - 1] / 1e6);
    printf("cpu per message       writers %.2f us  readers %.2f us (readers: warm-up bursts and idle wakeups included)\n",
           atomic_load(&writerCpuNs) / msgs / 1e3, atomic_load(&readerCpuNs) / (msgs + 3.0 * n) / 1e3);
    return 0;
}
