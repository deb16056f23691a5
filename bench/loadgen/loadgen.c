// edgews load generator: a raw-TCP WebSocket (RFC 6455) client written for benchmarking.
//
// Single-threaded, epoll, non-blocking sockets. It does the client opening handshake itself and
// then, depending on the mode:
//
//   echo       keeps a fixed window of pre-encoded MASKED frames in flight on every connection
//              (pipelined) and refills one frame per echoed message. Echoed frames are counted by
//              parsing their headers only; payload bytes are skipped, never copied.
//   hold       opens N connections, prints `held N`, and keeps them open until stdin closes
//              (used to measure the server's memory per idle connection).
//   handshake  connect + upgrade + close handshake, `--concurrency` at a time, for a fixed time;
//              reports completed cycles per second.
//   broadcast  opens `--conns` subscriber connections (path /sub) that only count the frames
//              they receive (by header), then one publisher connection (path /pub) that sends
//              pre-encoded masked trigger frames of `--size` bytes. The server publishes each
//              trigger's payload to every subscriber. At most `--window` broadcasts are in flight:
//              a trigger is sent only while fewer than window x conns deliveries are
//              outstanding, so the rate is set by how fast the server fans out, not by a timer.
//              Reports deliveries (frames received, summed over subscribers) per second.
//              Scale-out options of broadcast mode (bench/scaleout.ts):
//                --port2 P    a second server instance: the first ceil(conns/2) subscribers
//                             connect to --port (instance A, which also gets the publisher), the
//                             rest to --port2 (instance B); deliveries are also counted per
//                             instance.
//                --socketio   speak Socket.IO (Engine.IO v4) over the WebSocket at
//                             /socket.io/?EIO=4&transport=websocket&role=sub|pub: wait for the
//                             open packet `0{...}`, send `40`, wait for `40{"sid":...}`; answer
//                             pings `2` with `3`. The publisher emits `42["pub","<payload>"]`, the
//                             server is expected to emit `42["m","<payload>"]` to the room; only
//                             `42` frames count as deliveries. --size is the event payload (a JSON
//                             string of that many ASCII letters); frames are text.
//                --rate R     latency instead of throughput: R publishes per second from a
//                             timerfd (no window), each payload starting with the CLOCK_MONOTONIC
//                             send time (16 hex digits of ns) and a sequence number (8 hex
//                             digits); --size is at least 24. Every delivery of a message
//                             published during the measured seconds adds (arrival - send time) to
//                             the latency samples of its subscriber's instance: lat_a / lat_b
//                             {n, mean_us, p50_us, p90_us, p99_us, p999_us, max_us}, exact
//                             percentiles of all samples. first_a / first_b: the same over each
//                             message's first delivery on that instance (the hop without the
//                             fan-out behind it). A publish is skipped (skipped_publishes) while
//                             more than --window broadcasts' worth of deliveries are outstanding.
//                --server-pid2 PID, --redis-pid PID   also report their CPU use.
//                --machine-cpu  report machine_busy_cpus and machine_softirq_cpus: CPUs busy
//                             machine-wide (from /proc/stat) during the measured seconds, so that
//                             work by other processes can be told apart (implied by the above).
//
//   chat       latency under many connections: opens `--conns` connections, then each sends one
//              `--size`-byte message (at least 24) every 1/`--rate` s (--rate is per connection
//              here, default 1), the sends of all connections spread evenly over that period
//              (connection i % conns sends the i-th message of the whole run, at i/(rate x conns)
//              s, paced by a timerfd). Each payload starts with the CLOCK_MONOTONIC send time and a
//              sequence number, as with broadcast --rate; every echo of a message sent during the
//              measured seconds adds (arrival - send time) to `lat`: {n, mean_us, p50_us, p90_us,
//              p99_us, p999_us, max_us}, exact percentiles. After the measured seconds it waits
//              for the echoes still due (`missing` if they never come). Also reports
//              machine_busy_cpus and machine_softirq_cpus as broadcast --machine-cpu does.
//
// Compression (RFC 7692) for echo and hold:
//   --extensions STR   send `Sec-WebSocket-Extensions: STR` in the upgrade request; a 101 without
//                      a Sec-WebSocket-Extensions header naming the offer's first token (e.g.
//                      permessage-deflate) fails that connection (`ext_declined`). The first
//                      answer is reported as `extensions_accepted`.
//   --payload-file F   echo payloads from F instead of generated ones: one or more records of a
//                      4-byte big-endian length and that many bytes. The connections send them in
//                      turn (1st, 2nd, ..., then the 1st again), so that a server compressing
//                      with context takeover does not see the same message over and over.
//                      Without --rsv1 every echo must be --size bytes long, as usual.
//   --rsv1             set RSV1 on the data frames sent: the payloads are already compressed
//                      (raw deflate, the trailing 00 00 ff ff removed; the driver makes them
//                      independently decodable and offers client_no_context_takeover). Echoes
//                      are then not inflated: their lengths are not checked, and each one is
//                      counted as `compressed_replies` (RSV1 set) or `plain_replies`.
//
// Every mode prints exactly one JSON object on stdout when done (hold also prints `held N` first).
// Built by bench/run.ts:  gcc -O2 -o bench/.build/loadgen bench/loadgen/loadgen.c
//
// Usage: loadgen <echo|hold|handshake> [--host 127.0.0.1] [--port 9001] [--path /]
//          [--conns 50] [--window 20] [--size 32] [--text] [--warmup 2] [--duration 5]
//          [--concurrency 16] [--server-pid PID] [--timeout 30] [--wait-eof]
//          [--extensions STR] [--payload-file F] [--rsv1]
//        loadgen chat [--conns 10000] [--rate 1] [--size 64] [--warmup 2] [--duration 10]
//        loadgen broadcast [--conns 1000] [--window 16] [--size 32] [--warmup 2] [--duration 5]
//          [--port2 P] [--socketio] [--rate R] [--server-pid2 PID] [--redis-pid PID]
//          [--machine-cpu]
//
// handshake: after the server's close frame the client resets the TCP connection (no TIME_WAIT);
// with --wait-eof it waits instead for the server to close TCP first (RFC 6455 7.1.1), which
// makes the result depend on how soon each server closes.

#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#ifndef IP_BIND_ADDRESS_NO_PORT
#define IP_BIND_ADDRESS_NO_PORT 24
#endif

// ST_CLOSING: our close frame is sent, waiting for the server's. ST_CLOSED: close frames
// exchanged, waiting for the server to close the TCP connection (RFC 6455 7.1.1: server first).
// ST_SIO (--socketio): the WebSocket is open, the Socket.IO connect handshake is not done yet.
enum { ST_CONNECTING, ST_UPGRADING, ST_OPEN, ST_CLOSING, ST_CLOSED, ST_DEAD, ST_SIO };

#define HEAD_CAP 32  // payload bytes captured per incoming frame when a mode needs to read them

typedef struct {
  int fd;
  int state;
  int want_out;      // EPOLLOUT currently registered
  size_t req_sent;   // bytes of the upgrade request written so far
  char resp[2048];   // upgrade response accumulator
  size_t resp_len;
  uint64_t owed;     // bytes of frames still to write (echo mode)
  size_t send_off;   // offset inside the periodic frame stream, in [0, cycle_len)
  int next_frame;    // which frame of the cycle this connection sends next (echo mode)
  int rsv1;          // the current incoming message's first frame had RSV1 set
  uint64_t skip;     // payload bytes of the current incoming frame still to skip
  int count_when_done;
  uint64_t cur_len;  // payload length of the current incoming frame
  uint8_t partial[14];
  size_t plen;
  uint64_t received;
  double closed_at;  // when the server's close frame arrived (handshake mode)
  int is_pub;        // the publisher connection (broadcast mode)
  uint64_t base;     // `received` when the measurement started (broadcast mode)
  int inst;          // the server instance: 0 for --port, 1 for --port2
  uint8_t head[HEAD_CAP];  // the first payload bytes of the current incoming frame (if captured)
  size_t head_len;
  size_t head_want;
  uint8_t *xbuf;     // frames to write at the next frame boundary of the periodic stream
  size_t xlen, xoff, xcap;
} conn_t;

// ---- options ----
static const char *opt_host = "127.0.0.1";
static int opt_port = 9001;
static const char *opt_path = "/";
static int opt_conns = 50;
static int opt_window = 20;
static size_t opt_size = 32;
static int opt_text = 0;
static double opt_warmup = 2.0;
static double opt_duration = 5.0;
static int opt_concurrency = 16;
static int opt_server_pid = 0;
static double opt_timeout = 30.0;
static int opt_wait_eof = 0;
static int opt_port2 = 0;
static int opt_socketio = 0;
static double opt_rate = 0;
static int opt_server_pid2 = 0;
static int opt_redis_pid = 0;
static int opt_machine_cpu = 0;
static const char *opt_extensions = NULL;
static const char *opt_payload_file = NULL;
static int opt_rsv1 = 0;

// ---- state ----
static int ep;
static conn_t *conns;
static int nconns;
// The periodic stream every connection writes: a cycle of pre-encoded masked frames (one frame,
// or one per --payload-file record), repeated so that a window's worth fits after any offset.
static uint8_t *frames;
static size_t frame_len;   // the first frame's length (the only one without --payload-file)
static size_t cycle_len;   // the cycle's length: the period of the stream
static size_t frames_len;  // the whole buffer
static size_t *cycle_frame_len;
static int cycle_frames;
static char request[1024];
static size_t request_len;
static char pub_request[1024];  // broadcast mode: the publisher's upgrade request (path /pub)
static size_t pub_request_len;
static char sub_request2[1024];  // --port2: the subscribers' upgrade request to instance B
static size_t sub_request2_len;
static struct sockaddr_in server_addr2;
static int capture_head;         // read the first payload bytes of every frame (sio, latency)
static uint64_t expect_len;      // payload length of a delivery (--size, plus the sio framing)
static uint64_t inst_msgs[2];    // deliveries per instance
static uint64_t pub_received;   // frames the server sent to the publisher (should stay 0)
static uint64_t total_msgs;
static uint64_t total_bytes_in;
static uint64_t errors;
static uint64_t bad_len;
static uint64_t closes_seen;
static uint64_t compressed_replies, plain_replies;  // --rsv1
static uint64_t ext_declined;                       // --extensions
static char ext_answer[256];                        // the first Sec-WebSocket-Extensions answer
static uint8_t rbuf[256 * 1024];
static struct sockaddr_in server_addr;
static uint32_t src_counter;

static double now_s(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static double self_cpu_s(void) {
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
         ru.ru_stime.tv_usec / 1e6;
}

// utime + stime of a process (all its threads), in seconds; -1 if unavailable.
static double proc_cpu_s(int pid) {
  if (pid <= 0) return -1;
  char path[64], buf[1024];
  snprintf(path, sizeof path, "/proc/%d/stat", pid);
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  if (!p) return -1;
  p += 2;  // now at field 3 (state)
  unsigned long long ut = 0, st = 0;
  // fields 3..13 skipped, 14 utime, 15 stime
  int field = 3;
  char *tok = strtok(p, " ");
  while (tok) {
    if (field == 14) ut = strtoull(tok, NULL, 10);
    if (field == 15) {
      st = strtoull(tok, NULL, 10);
      break;
    }
    tok = strtok(NULL, " ");
    field++;
  }
  return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

// Machine-wide CPU time from /proc/stat, in seconds: busy (everything but idle and iowait,
// softirq included) and softirq alone. Returns 0 if unavailable.
static int machine_cpu_s(double *busy, double *softirq) {
  FILE *f = fopen("/proc/stat", "r");
  if (!f) return 0;
  unsigned long long v[10] = {0};
  int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
                 &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]);
  fclose(f);
  if (n < 8) return 0;
  // user nice system idle iowait irq softirq steal (guest time is already inside user)
  double tck = (double)sysconf(_SC_CLK_TCK);
  *busy = (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / tck;
  *softirq = (double)v[6] / tck;
  return 1;
}

static void die(const char *msg) {
  fprintf(stderr, "loadgen: %s: %s\n", msg, strerror(errno));
  exit(2);
}

static void set_events(conn_t *c, int out) {
  if (c->want_out == out) return;
  struct epoll_event ev = {.events = EPOLLIN | (out ? EPOLLOUT : 0), .data.ptr = c};
  if (epoll_ctl(ep, EPOLL_CTL_MOD, c->fd, &ev) < 0) die("epoll_ctl mod");
  c->want_out = out;
}

static void conn_kill(conn_t *c) {
  if (c->fd >= 0) {
    epoll_ctl(ep, EPOLL_CTL_DEL, c->fd, NULL);
    close(c->fd);
  }
  c->fd = -1;
  c->state = ST_DEAD;
}

// Start a non-blocking connect to instance `inst` (0: --port, 1: --port2). Source addresses
// rotate over 127.0.0.2-127.0.0.254 so that many short-lived connections (handshake mode) do not
// run out of ephemeral ports.
static void conn_start_inst(conn_t *c, int inst) {
  free(c->xbuf);
  memset(c, 0, sizeof *c);
  c->inst = inst;
  const struct sockaddr_in *addr = inst ? &server_addr2 : &server_addr;
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) die("socket");
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (server_addr.sin_addr.s_addr == htonl(INADDR_LOOPBACK)) {
    setsockopt(c->fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
    struct sockaddr_in src = {.sin_family = AF_INET};
    src.sin_addr.s_addr = htonl(0x7f000002u + (src_counter++ % 253u));
    if (bind(c->fd, (struct sockaddr *)&src, sizeof src) < 0) die("bind");
  }
  int r = connect(c->fd, (const struct sockaddr *)addr, sizeof *addr);
  if (r < 0 && errno != EINPROGRESS) die("connect");
  c->state = ST_CONNECTING;
  struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT, .data.ptr = c};
  c->want_out = 1;
  if (epoll_ctl(ep, EPOLL_CTL_ADD, c->fd, &ev) < 0) die("epoll_ctl add");
}

static void conn_start(conn_t *c) { conn_start_inst(c, 0); }

// Write as much of the owed frame bytes as the socket takes. Every connection writes the same
// cycle of frames over and over, so the outgoing stream is periodic and any slice of it is a
// slice of `frames`.
static void flush_frames(conn_t *c) {
  while (c->owed > 0) {
    size_t start = c->send_off;
    size_t len = frames_len - start;
    if ((uint64_t)len > c->owed) len = (size_t)c->owed;
    ssize_t n = send(c->fd, frames + start, len, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        set_events(c, 1);
        return;
      }
      errors++;
      conn_kill(c);
      return;
    }
    c->owed -= (uint64_t)n;
    c->send_off = (start + (size_t)n) % cycle_len;
    if ((size_t)n < len) {
      set_events(c, 1);
      return;
    }
  }
  set_events(c, 0);
}

// Write the frames queued in xbuf (control frames, time-stamped publishes), then the periodic
// stream. xbuf frames go out only at a frame boundary of the periodic stream, so a frame in
// progress there is finished first (the modes that use xbuf have a cycle of one frame).
static void flush_conn(conn_t *c) {
  if (c->xoff < c->xlen) {
    if (c->send_off != 0 && c->owed > 0) {
      size_t len = frame_len - c->send_off;
      if ((uint64_t)len > c->owed) len = (size_t)c->owed;
      ssize_t n = send(c->fd, frames + c->send_off, len, MSG_NOSIGNAL);
      if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
        errors++;
        conn_kill(c);
        return;
      }
      if (n > 0) {
        c->owed -= (uint64_t)n;
        c->send_off = (c->send_off + (size_t)n) % cycle_len;
      }
      if (c->send_off != 0) {
        set_events(c, 1);
        return;
      }
    }
    while (c->xoff < c->xlen) {
      ssize_t n = send(c->fd, c->xbuf + c->xoff, c->xlen - c->xoff, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          set_events(c, 1);
          return;
        }
        errors++;
        conn_kill(c);
        return;
      }
      c->xoff += (size_t)n;
    }
    c->xoff = c->xlen = 0;
  }
  flush_frames(c);
}

// Queue one masked frame (FIN, `opcode`) with `payload` in xbuf; returns where its payload starts
// in xbuf (the caller may patch it, masking with 0x37fa213d as laid down here).
static size_t queue_frame(conn_t *c, int opcode, const uint8_t *payload, size_t n) {
  size_t hl = 2 + (n < 126 ? 0 : n < 65536 ? 2 : 8) + 4;
  if (c->xlen + hl + n > c->xcap) {
    if (c->xoff > 0) {  // compact
      memmove(c->xbuf, c->xbuf + c->xoff, c->xlen - c->xoff);
      c->xlen -= c->xoff;
      c->xoff = 0;
    }
    if (c->xlen + hl + n > c->xcap) {
      size_t cap = c->xcap ? c->xcap : 256;
      while (cap < c->xlen + hl + n) cap *= 2;
      uint8_t *b = realloc(c->xbuf, cap);
      if (!b) die("realloc xbuf");
      c->xbuf = b;
      c->xcap = cap;
    }
  }
  uint8_t *f = c->xbuf + c->xlen;
  const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
  f[0] = (uint8_t)(0x80 | opcode);
  size_t i = 2;
  if (n < 126) {
    f[1] = (uint8_t)(0x80 | n);
  } else if (n < 65536) {
    f[1] = 0x80 | 126;
    f[2] = (uint8_t)(n >> 8);
    f[3] = (uint8_t)n;
    i = 4;
  } else {
    f[1] = 0x80 | 127;
    for (int k = 0; k < 8; k++) f[2 + k] = (uint8_t)((uint64_t)n >> (56 - 8 * k));
    i = 10;
  }
  memcpy(f + i, mask, 4);
  i += 4;
  for (size_t k = 0; k < n; k++) f[i + k] = payload[k] ^ mask[k & 3];
  size_t at = c->xlen + i;
  c->xlen += i + n;
  return at;
}

static int mode_echo_like;  // refill on echo
static int mode_chat;

// The length of the frame `c` sends next in the periodic stream; moves it on to the one after.
static size_t next_frame_len(conn_t *c) {
  size_t n = cycle_frame_len[c->next_frame];
  c->next_frame = (c->next_frame + 1) % cycle_frames;
  return n;
}
static int mode_handshake;

static const uint8_t close_frame[8] = {0x88, 0x82, 0x11, 0x22, 0x33, 0x44, 0x03 ^ 0x11, 0xe8 ^ 0x22};

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

// ---- latency samples (--rate) ----
#define LAT_MAX_SAMPLES (16u << 20)  // per instance (128 MiB); beyond it, counted in lat_dropped
static uint64_t *lat[2];
static size_t lat_n[2], lat_cap[2];
static uint64_t lat_from_ns = UINT64_MAX, lat_to_ns = 0;  // record messages sent in [from, to)
static uint64_t lat_dropped, bad_stamp;
static uint64_t recv_ns;  // when the read being parsed returned
static size_t stamp_at;   // offset of the send time in a delivery's payload

// Per message (by sequence number) and instance: the latency of its first delivery there.
static uint64_t *first_lat[2];
static uint8_t *seq_measured;  // the message was sent during the measured seconds
static uint64_t seq_cap;

static int parse_hex(const uint8_t *h, size_t digits, uint64_t *out) {
  uint64_t v = 0;
  for (size_t i = 0; i < digits; i++) {
    uint8_t d = h[i];
    if (d >= '0' && d <= '9') v = (v << 4) | (uint64_t)(d - '0');
    else if (d >= 'a' && d <= 'f') v = (v << 4) | (uint64_t)(d - 'a' + 10);
    else return 0;
  }
  *out = v;
  return 1;
}

// A stamped payload starts with 16 hex digits of send time (ns) and 8 of sequence number.
static void record_latency(conn_t *c) {
  uint64_t sent, seq;
  if (c->head_len < stamp_at + 24 || !parse_hex(c->head + stamp_at, 16, &sent) ||
      !parse_hex(c->head + stamp_at + 16, 8, &seq)) {
    bad_stamp++;
    return;
  }
  if (sent < lat_from_ns || sent >= lat_to_ns) return;
  int k = c->inst;
  uint64_t d = recv_ns > sent ? recv_ns - sent : 0;
  if (seq < seq_cap) {
    seq_measured[seq] = 1;
    if (d < first_lat[k][seq]) first_lat[k][seq] = d;
  }
  if (lat_n[k] == lat_cap[k]) {
    if (lat_cap[k] >= LAT_MAX_SAMPLES) {
      lat_dropped++;
      return;
    }
    size_t cap = lat_cap[k] ? lat_cap[k] * 2 : 1u << 16;
    uint64_t *b = realloc(lat[k], cap * sizeof *b);
    if (!b) die("realloc latency samples");
    lat[k] = b;
    lat_cap[k] = cap;
  }
  lat[k][lat_n[k]++] = d;
}

// ---- Socket.IO (--socketio) ----
static uint64_t sio_pings, sio_other;

// Engine.IO / Socket.IO packets that are not events. Returns 1 if the frame was one (handled
// here), 0 for an event (`42...`), which is a delivery.
static int sio_control(conn_t *c, uint64_t len) {
  const uint8_t *h = c->head;
  size_t n = c->head_len;
  if (n >= 2 && h[0] == '4' && h[1] == '2') return 0;
  if (len == 1 && n == 1 && h[0] == '2') {  // Engine.IO ping: answer with a pong
    sio_pings++;
    queue_frame(c, 1, (const uint8_t *)"3", 1);
    flush_conn(c);
  } else if (n >= 1 && h[0] == '0' && c->state == ST_SIO) {  // Engine.IO open: connect to "/"
    queue_frame(c, 1, (const uint8_t *)"40", 2);
    flush_conn(c);
  } else if (n >= 2 && h[0] == '4' && h[1] == '0' && c->state == ST_SIO) {  // connected
    c->state = ST_OPEN;
  } else if (n >= 2 && h[0] == '4' && (h[1] == '1' || h[1] == '4')) {  // disconnect / error
    fprintf(stderr, "loadgen: socket.io %s: %.*s\n", h[1] == '1' ? "disconnect" : "connect error",
            (int)n, (const char *)h);
    errors++;
  } else {
    sio_other++;
  }
  return 1;
}

static void on_message(conn_t *c, uint64_t len) {
  if (opt_socketio && sio_control(c, len)) return;
  if (c->is_pub) {
    pub_received++;
    return;
  }
  c->received++;
  total_msgs++;
  inst_msgs[c->inst]++;
  if (opt_rsv1) {  // a compressed echo's length is whatever the server's deflater made of it
    if (c->rsv1) compressed_replies++;
    else plain_replies++;
  } else if (len != expect_len) {
    bad_len++;
  }
  if (opt_rate > 0) record_latency(c);
  if (mode_echo_like) c->owed += next_frame_len(c);
}

static size_t header_need(const uint8_t *h) {
  uint8_t l7 = h[1] & 0x7f;
  return 2 + (l7 == 126 ? 2 : l7 == 127 ? 8 : 0) + ((h[1] & 0x80) ? 4 : 0);
}

// Returns 0 normally, 1 when a close frame header was seen.
static int on_header(conn_t *c, const uint8_t *h) {
  uint8_t op = h[0] & 0x0f;
  uint8_t l7 = h[1] & 0x7f;
  uint64_t len = l7;
  if (l7 == 126) {
    len = ((uint64_t)h[2] << 8) | h[3];
  } else if (l7 == 127) {
    len = 0;
    for (int i = 0; i < 8; i++) len = (len << 8) | h[2 + i];
  }
  if (op == 8) {
    closes_seen++;
    return 1;
  }
  c->cur_len = (op == 0) ? c->cur_len + len : len;
  if (op != 0) c->rsv1 = (h[0] & 0x40) != 0;
  c->count_when_done = (h[0] & 0x80) && op < 3;
  c->skip = len;
  if (capture_head) {
    c->head_len = 0;
    c->head_want = len < HEAD_CAP ? (size_t)len : HEAD_CAP;
  }
  if (len == 0 && c->count_when_done) {
    c->count_when_done = 0;
    on_message(c, c->cur_len);
  }
  return 0;
}

// Parse incoming frames: headers only, payloads skipped.
static int parse(conn_t *c, const uint8_t *p, size_t n) {
  while (n) {
    if (c->skip) {
      uint64_t k = c->skip < n ? c->skip : n;
      if (c->head_len < c->head_want) {
        size_t t = c->head_want - c->head_len;
        if ((uint64_t)t > k) t = (size_t)k;
        memcpy(c->head + c->head_len, p, t);
        c->head_len += t;
      }
      c->skip -= k;
      p += k;
      n -= (size_t)k;
      if (c->skip == 0 && c->count_when_done) {
        c->count_when_done = 0;
        on_message(c, c->cur_len);
      }
      continue;
    }
    if (c->plen == 0 && n >= 14) {
      size_t need = header_need(p);
      if (on_header(c, p)) return 1;
      p += need;
      n -= need;
      continue;
    }
    while (c->plen < 2 && n) {
      c->partial[c->plen++] = *p++;
      n--;
    }
    if (c->plen < 2) return 0;
    size_t need = header_need(c->partial);
    while (c->plen < need && n) {
      c->partial[c->plen++] = *p++;
      n--;
    }
    if (c->plen < need) return 0;
    c->plen = 0;
    if (on_header(c, c->partial)) return 1;
  }
  return 0;
}

static uint64_t handshakes_done;
static uint64_t upgrades_done;
static uint64_t no_eof;  // server never closed the TCP connection after the close handshake
static int accepting_new = 1;

static void handshake_cycle_done(conn_t *c) {
  handshakes_done++;
  conn_kill(c);
  if (accepting_new) conn_start(c);
}

// Give up waiting for the server's TCP close after 1 s (the cycle still counts, as a no_eof).
static void reap_closed(double now) {
  for (int i = 0; i < nconns; i++) {
    if (conns[i].state == ST_CLOSED && now - conns[i].closed_at > 1.0) {
      no_eof++;
      handshake_cycle_done(&conns[i]);
    }
  }
}

static void on_open(conn_t *c) {
  upgrades_done++;
  c->state = ST_OPEN;
  if (opt_socketio) {  // the Socket.IO connect handshake comes next (see sio_control)
    c->state = ST_SIO;
    set_events(c, 0);
    return;
  }
  if (mode_handshake) {
    ssize_t n = send(c->fd, close_frame, sizeof close_frame, MSG_NOSIGNAL);
    if (n != (ssize_t)sizeof close_frame) {
      errors++;
      conn_kill(c);
      if (accepting_new) conn_start(c);
      return;
    }
    c->state = ST_CLOSING;
    set_events(c, 0);
    return;
  }
  // Echo mode: frames start only once every connection is open (see start_load), so that a
  // server busy echoing for early connections does not stall the handshakes of later ones.
  set_events(c, 0);
}

static void start_load(void) {
  for (int i = 0; i < nconns; i++) {
    conn_t *c = &conns[i];
    if (c->state != ST_OPEN) continue;
    c->owed = 0;
    c->send_off = 0;
    c->next_frame = 0;
    for (int w = 0; w < opt_window; w++) c->owed += next_frame_len(c);
    flush_frames(c);
  }
}

static void handle_writable(conn_t *c) {
  if (c->state == ST_CONNECTING) {
    int err = 0;
    socklen_t el = sizeof err;
    getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
    if (err) {
      errno = err;
      errors++;
      conn_kill(c);
      if (mode_handshake && accepting_new) conn_start(c);
      return;
    }
    c->state = ST_UPGRADING;
  }
  if (c->state == ST_UPGRADING) {
    const char *req = c->is_pub ? pub_request : c->inst ? sub_request2 : request;
    size_t req_len = c->is_pub ? pub_request_len : c->inst ? sub_request2_len : request_len;
    while (c->req_sent < req_len) {
      ssize_t n = send(c->fd, req + c->req_sent, req_len - c->req_sent, MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN) return;
        errors++;
        conn_kill(c);
        return;
      }
      c->req_sent += (size_t)n;
    }
    set_events(c, 0);
    return;
  }
  if (c->state == ST_OPEN || c->state == ST_SIO) {
    if (c->xoff < c->xlen) flush_conn(c);
    else if (mode_echo_like || c->is_pub) flush_frames(c);
  }
}

// Whether the 101 response head `resp` (ending at `end`) accepts the offered extension: a
// Sec-WebSocket-Extensions header that names the offer's first token. Keeps the first answer.
static int extension_accepted(const char *resp, const char *end) {
  char want[64];
  size_t k = 0;
  while (opt_extensions[k] && opt_extensions[k] != ';' && opt_extensions[k] != ',' &&
         opt_extensions[k] != ' ' && k < sizeof want - 1) {
    want[k] = opt_extensions[k];
    k++;
  }
  want[k] = 0;
  for (const char *line = strstr(resp, "\r\n"); line && line < end;
       line = strstr(line + 2, "\r\n")) {
    const char *name = line + 2;
    static const char hdr[] = "sec-websocket-extensions:";
    if (strncasecmp(name, hdr, sizeof hdr - 1) != 0) continue;
    const char *v = name + sizeof hdr - 1;
    while (*v == ' ' || *v == '\t') v++;
    const char *eol = strstr(v, "\r\n");
    size_t n = (size_t)(eol - v);
    char value[256];
    if (n >= sizeof value) n = sizeof value - 1;
    memcpy(value, v, n);
    value[n] = 0;
    if (!strcasestr(value, want)) continue;
    if (!ext_answer[0]) {  // for the JSON: no quotes or backslashes
      for (size_t i = 0; i < n; i++) {
        ext_answer[i] = (value[i] == '"' || value[i] == '\\') ? '\'' : value[i];
      }
      ext_answer[n] = 0;
    }
    return 1;
  }
  if (ext_declined == 0) {
    fprintf(stderr, "loadgen: the server did not accept %s: %.200s\n", want, resp);
  }
  return 0;
}

static void handle_readable(conn_t *c) {
  ssize_t n = recv(c->fd, rbuf, sizeof rbuf, 0);
  if (n <= 0) {
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) return;
    if (c->state == ST_CLOSING || c->state == ST_CLOSED) {
      handshake_cycle_done(c);
      return;
    }
    errors++;
    conn_kill(c);
    if (mode_handshake && accepting_new) conn_start(c);
    return;
  }
  total_bytes_in += (uint64_t)n;
  if (opt_rate > 0) recv_ns = now_ns();
  const uint8_t *p = rbuf;
  size_t len = (size_t)n;
  if (c->state == ST_UPGRADING || c->state == ST_CONNECTING) {
    size_t room = sizeof c->resp - 1 - c->resp_len;
    size_t take = len < room ? len : room;
    memcpy(c->resp + c->resp_len, p, take);
    c->resp_len += take;
    c->resp[c->resp_len] = 0;
    char *end = strstr(c->resp, "\r\n\r\n");
    if (!end) {
      if (c->resp_len >= sizeof c->resp - 1) {
        errors++;
        conn_kill(c);
      }
      return;
    }
    if (strncmp(c->resp, "HTTP/1.1 101", 12) != 0) {
      fprintf(stderr, "loadgen: upgrade refused: %.60s\n", c->resp);
      errors++;
      conn_kill(c);
      if (mode_handshake && accepting_new) conn_start(c);
      return;
    }
    if (opt_extensions && !extension_accepted(c->resp, end)) {
      ext_declined++;
      errors++;
      conn_kill(c);
      return;
    }
    size_t hdr = (size_t)(end + 4 - c->resp);
    size_t consumed = hdr - (c->resp_len - take);  // bytes of this read that were headers
    p += consumed;
    len -= consumed;
    on_open(c);
    if (c->state == ST_DEAD) return;
  }
  if (len == 0) return;
  if (parse(c, p, len)) {
    // server sent a close frame
    if (c->state == ST_CLOSING) {
      if (opt_wait_eof) {
        c->state = ST_CLOSED;  // now wait for the server to close TCP
        c->closed_at = now_s();
      } else {
        // Close handshake done: drop the TCP connection with a reset so that neither side keeps
        // a TIME_WAIT entry (tens of thousands of them slow the loopback stack down).
        struct linger lg = {.l_onoff = 1, .l_linger = 0};
        setsockopt(c->fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        handshake_cycle_done(c);
      }
    } else {
      errors++;
      conn_kill(c);
    }
    return;
  }
  if (c->state == ST_DEAD) return;
  if ((mode_echo_like || c->is_pub) && c->owed) flush_frames(c);
}

static conn_t tick_sentinel;  // epoll data of the --rate timerfd
static void on_tick(void);

static int poll_once(int timeout_ms) {
  struct epoll_event evs[512];
  int n = epoll_wait(ep, evs, 512, timeout_ms);
  if (n < 0) {
    if (errno == EINTR) return 0;
    die("epoll_wait");
  }
  for (int i = 0; i < n; i++) {
    conn_t *c = evs[i].data.ptr;
    uint32_t e = evs[i].events;
    if (c == &tick_sentinel) {
      on_tick();
      continue;
    }
    if (c->state == ST_DEAD) continue;
    if (e & (EPOLLOUT | EPOLLERR | EPOLLHUP)) {
      if (c->state == ST_CONNECTING || (e & EPOLLOUT)) handle_writable(c);
    }
    if (c->state == ST_DEAD) continue;
    if (e & (EPOLLIN | EPOLLERR | EPOLLHUP)) handle_readable(c);
  }
  return n;
}

static int count_state(int st) {
  int k = 0;
  for (int i = 0; i < nconns; i++) k += conns[i].state == st;
  return k;
}

// Open all connections (at most `batch` upgrades pending at a time). Returns the number open.
// With --port2 the first ceil(nconns/2) go to instance A (--port), the rest to B (--port2).
static int open_all(int batch, double deadline) {
  int started = 0;
  int split = opt_port2 ? (nconns + 1) / 2 : nconns;
  for (;;) {
    int pending = 0, open = 0;
    for (int i = 0; i < started; i++) {
      int st = conns[i].state;
      if (st == ST_CONNECTING || st == ST_UPGRADING || st == ST_SIO) pending++;
      if (st == ST_OPEN) open++;
    }
    while (started < nconns && pending < batch) {
      conn_start_inst(&conns[started], started >= split);
      started++;
      pending++;
    }
    if (started == nconns && pending == 0) return open;
    if (now_s() > deadline) return open;
    poll_once(10);
  }
}

// The message payload: --size bytes (letters with --text), wrapped as a Socket.IO event
// `42["pub","..."]` with --socketio.
static uint8_t *payload;
static size_t payload_len;
static size_t body_at;  // where the --size bytes start in `payload`

static void build_payload(void) {
  const char *pre = opt_socketio ? "42[\"pub\",\"" : "";
  const char *post = opt_socketio ? "\"]" : "";
  body_at = strlen(pre);
  payload_len = body_at + opt_size + strlen(post);
  payload = malloc(payload_len + 1);
  if (!payload) die("malloc payload");
  memcpy(payload, pre, body_at);
  for (size_t k = 0; k < opt_size; k++) {
    payload[body_at + k] = opt_text ? (uint8_t)('a' + k % 26) : (uint8_t)(k * 31 + 7);
  }
  memcpy(payload + body_at + opt_size, post, strlen(post));
}

// One masked frame (FIN, `opcode`, RSV1 with --rsv1) of payload `p` at `f`; returns its length.
static size_t encode_frame(uint8_t *f, int opcode, const uint8_t *p, size_t n) {
  f[0] = (uint8_t)(0x80 | (opt_rsv1 ? 0x40 : 0) | opcode);
  size_t i = 2;
  if (n < 126) {
    f[1] = 0x80 | (uint8_t)n;
  } else if (n < 65536) {
    f[1] = 0x80 | 126;
    f[2] = (uint8_t)(n >> 8);
    f[3] = (uint8_t)n;
    i = 4;
  } else {
    f[1] = 0x80 | 127;
    for (int k = 0; k < 8; k++) f[2 + k] = (uint8_t)((uint64_t)n >> (56 - 8 * k));
    i = 10;
  }
  const uint8_t mask[4] = {0x37, 0xfa, 0x21, 0x3d};
  memcpy(f + i, mask, 4);
  i += 4;
  for (size_t k = 0; k < n; k++) f[i + k] = p[k] ^ mask[k & 3];
  return i + n;
}

// The payloads of --payload-file (records of a 4-byte big-endian length and the bytes), one
// after the other in `payload`; their lengths in `lens`. Returns how many there are.
static int read_payload_file(size_t **lens) {
  FILE *f = fopen(opt_payload_file, "rb");
  if (!f) die("open --payload-file");
  if (fseek(f, 0, SEEK_END) < 0) die("seek --payload-file");
  long size = ftell(f);
  rewind(f);
  uint8_t *raw = malloc((size_t)size + 1);
  if (!raw || fread(raw, 1, (size_t)size, f) != (size_t)size) die("read --payload-file");
  fclose(f);
  payload = malloc((size_t)size + 1);
  *lens = malloc(((size_t)size / 4 + 1) * sizeof **lens);
  if (!payload || !*lens) die("malloc payloads");
  int count = 0;
  payload_len = 0;
  for (size_t at = 0; at + 4 <= (size_t)size;) {
    size_t n = (size_t)raw[at] << 24 | (size_t)raw[at + 1] << 16 | (size_t)raw[at + 2] << 8 |
               raw[at + 3];
    at += 4;
    if (n > (size_t)size - at) {
      fprintf(stderr, "loadgen: --payload-file: record %d overruns the file\n", count);
      exit(2);
    }
    memcpy(payload + payload_len, raw + at, n);
    payload_len += n;
    (*lens)[count++] = n;
    at += n;
  }
  free(raw);
  if (count == 0) {
    fprintf(stderr, "loadgen: --payload-file: no payloads\n");
    exit(2);
  }
  return count;
}

static void build_frames(void) {
  size_t *lens;
  if (opt_payload_file) {
    cycle_frames = read_payload_file(&lens);
  } else {
    build_payload();
    cycle_frames = 1;
    lens = malloc(sizeof *lens);
    if (!lens) die("malloc");
    lens[0] = payload_len;
  }
  // One cycle, then copies of it: a window of frames fits after any offset inside the first.
  size_t room = 0, max_frame = 0;
  for (int k = 0; k < cycle_frames; k++) room += 14 + lens[k];
  frames = malloc(room);
  cycle_frame_len = malloc((size_t)cycle_frames * sizeof *cycle_frame_len);
  if (!frames || !cycle_frame_len) die("malloc frames");
  const uint8_t *p = payload;
  cycle_len = 0;
  for (int k = 0; k < cycle_frames; k++) {
    cycle_frame_len[k] = encode_frame(frames + cycle_len, opt_text ? 1 : 2, p, lens[k]);
    cycle_len += cycle_frame_len[k];
    if (cycle_frame_len[k] > max_frame) max_frame = cycle_frame_len[k];
    p += lens[k];
  }
  frame_len = cycle_frame_len[0];
  size_t reps = 1 + ((size_t)opt_window * max_frame + cycle_len - 1) / cycle_len;
  frames_len = cycle_len * reps;
  uint8_t *grown = realloc(frames, frames_len);
  if (!grown) die("realloc frames");
  frames = grown;
  for (size_t r = 1; r < reps; r++) memcpy(frames + r * cycle_len, frames, cycle_len);
  free(lens);
}

// ---- broadcast mode ----

static uint64_t triggers_sent;

// Queue triggers while fewer than `window` broadcasts' worth of deliveries are outstanding.
// A delivery the server dropped stays "outstanding" for good, so drops shrink the window by
// 1/conns of a broadcast each; they are reported as `missing` at the end.
static void pump_publisher(conn_t *pub, int subs, int allow) {
  if (!allow || pub->state != ST_OPEN) return;
  uint64_t cap = (uint64_t)opt_window * (uint64_t)subs;
  int queued = 0;
  for (;;) {
    uint64_t expected = triggers_sent * (uint64_t)subs;
    uint64_t outstanding = expected > total_msgs ? expected - total_msgs : 0;
    if (outstanding + (uint64_t)subs > cap) break;
    triggers_sent++;
    pub->owed += next_frame_len(pub);
    queued = 1;
  }
  if (queued) flush_frames(pub);
}

// --rate: one publish with the send time in its payload (16 hex digits of CLOCK_MONOTONIC ns).
static conn_t *rate_pub;
static int rate_subs;
static int rate_on;  // the timer may publish (after the sync phase)
static uint64_t skipped_publishes;

static uint64_t stamp_seq;

static void send_stamped(conn_t *pub) {
  static const char hex[] = "0123456789abcdef";
  uint64_t seq = stamp_seq++;
  for (int k = 0; k < 8; k++) payload[body_at + 16 + k] = (uint8_t)hex[(seq >> (28 - 4 * k)) & 15];
  uint64_t t = now_ns();
  for (int k = 0; k < 16; k++) payload[body_at + k] = (uint8_t)hex[(t >> (60 - 4 * k)) & 15];
  queue_frame(pub, opt_text ? 1 : 2, payload, payload_len);
  triggers_sent++;
  flush_conn(pub);
}

static void send_trigger(conn_t *pub) {
  if (opt_rate > 0) {
    send_stamped(pub);
    return;
  }
  triggers_sent++;
  pub->owed += next_frame_len(pub);
  flush_frames(pub);
}

static int tick_fd = -1;

static void chat_tick(void);

static void on_tick(void) {
  uint64_t expirations = 0;
  if (read(tick_fd, &expirations, sizeof expirations) != sizeof expirations) return;
  if (mode_chat) {
    chat_tick();
    return;
  }
  if (!rate_on || rate_pub->state != ST_OPEN) return;
  uint64_t cap = (uint64_t)opt_window * (uint64_t)rate_subs;
  for (uint64_t i = 0; i < expirations; i++) {
    uint64_t expected = triggers_sent * (uint64_t)rate_subs;
    uint64_t outstanding = expected > total_msgs ? expected - total_msgs : 0;
    if (outstanding + (uint64_t)rate_subs > cap) {
      skipped_publishes++;
      continue;
    }
    send_stamped(rate_pub);
  }
}

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

// Nearest-rank percentile q of n sorted values.
static uint64_t pct(const uint64_t *v, size_t n, double q) {
  size_t r = (size_t)(q * (double)n + 0.999999);
  return v[(r ? r : 1) - 1];
}

// `,"name":{"n":..,"mean_us":..,"p50_us":..,...,"max_us":..}` of n latency samples (sorted here).
static void print_latency(const char *name, uint64_t *v, size_t n) {
  if (n == 0) {
    printf(",\"%s\":{\"n\":0}", name);
    return;
  }
  qsort(v, n, sizeof *v, cmp_u64);
  double sum = 0;
  for (size_t i = 0; i < n; i++) sum += (double)v[i];
  printf(",\"%s\":{\"n\":%zu,\"mean_us\":%.1f,\"p50_us\":%.1f,\"p90_us\":%.1f,\"p99_us\":%.1f,"
         "\"p999_us\":%.1f,\"max_us\":%.1f}",
         name, n, sum / (double)n / 1e3, (double)pct(v, n, 0.5) / 1e3,
         (double)pct(v, n, 0.9) / 1e3, (double)pct(v, n, 0.99) / 1e3,
         (double)pct(v, n, 0.999) / 1e3, (double)v[n - 1] / 1e3);
}

// The first-delivery latencies at instance k of the messages sent during the measured seconds
// (messages never delivered there are left out; they show up in `missing`).
static void print_first_latency(const char *name, int k) {
  uint64_t *v = malloc((seq_cap ? seq_cap : 1) * sizeof *v);
  if (!v) die("malloc");
  size_t n = 0;
  for (uint64_t s = 0; s < seq_cap && s < stamp_seq; s++) {
    if (seq_measured[s] && first_lat[k][s] != UINT64_MAX) v[n++] = first_lat[k][s];
  }
  print_latency(name, v, n);
  free(v);
}

static int run_broadcast(void) {
  if (opt_socketio) opt_text = 1;
  if (opt_rate > 0 && opt_size < 24) opt_size = 24;  // room for the send time and sequence
  if (opt_rate > 0) {
    seq_cap = (uint64_t)(opt_rate * (opt_warmup + opt_duration + opt_timeout + 5)) + 1024;
    seq_measured = calloc(seq_cap, 1);
    for (int k = 0; k < 2; k++) {
      first_lat[k] = malloc(seq_cap * sizeof *first_lat[k]);
      if (!first_lat[k]) die("malloc");
      for (uint64_t s = 0; s < seq_cap; s++) first_lat[k][s] = UINT64_MAX;
    }
  }
  build_frames();
  capture_head = opt_socketio || opt_rate > 0;
  expect_len = opt_size + (opt_socketio ? strlen("42[\"m\",\"\"]") : 0);
  stamp_at = opt_socketio ? strlen("42[\"m\",\"") : 0;
  int subs = opt_conns;
  conns = calloc((size_t)subs + 1, sizeof *conns);
  nconns = subs;
  double t0 = now_s();
  int open = open_all(256, t0 + opt_timeout);
  if (open < subs) {
    printf("{\"mode\":\"broadcast\",\"error\":\"only %d of %d subscribers upgraded\"}\n", open,
           subs);
    return 1;
  }
  conn_t *pub = &conns[subs];
  conn_start(pub);
  pub->is_pub = 1;
  nconns = subs + 1;
  double deadline = now_s() + opt_timeout;
  while (pub->state != ST_OPEN && pub->state != ST_DEAD && now_s() < deadline) poll_once(10);
  if (pub->state != ST_OPEN) {
    printf("{\"mode\":\"broadcast\",\"error\":\"publisher did not upgrade\"}\n");
    return 1;
  }
  double t_open = now_s();
  // Sync: one trigger at a time until every subscriber has received one (a server may register
  // a subscription a little after its 101 response; with a second instance, this also waits
  // until its backplane subscription is active), then let in-flight frames settle.
  int sync_triggers = 0;
  for (;;) {
    if (now_s() > deadline) {
      int got[2] = {0, 0};
      for (int i = 0; i < subs; i++) got[conns[i].inst] += conns[i].received > 0;
      printf("{\"mode\":\"broadcast\",\"error\":\"not every subscriber got a message "
             "(instance A: %d, B: %d subscribers did)\"}\n",
             got[0], got[1]);
      return 1;
    }
    sync_triggers++;
    send_trigger(pub);
    double wait_end = now_s() + 1.0;
    int all = 0;
    while (!all && now_s() < wait_end) {
      poll_once(10);
      all = 1;
      for (int i = 0; i < subs; i++) {
        if (conns[i].received == 0) {
          all = 0;
          break;
        }
      }
    }
    if (all) break;
  }
  double settle = now_s() + 0.2;
  while (now_s() < settle) poll_once(10);
  uint64_t sync_msgs = total_msgs;
  // From here on `outstanding` counts from zero again.
  total_msgs = 0;
  triggers_sent = 0;
  double t_sync = now_s();
  double warm_end = t_sync + opt_warmup;
  if (opt_rate > 0) {
    rate_pub = pub;
    rate_subs = subs;
    tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    if (tick_fd < 0) die("timerfd_create");
    uint64_t ns = (uint64_t)(1e9 / opt_rate);
    if (ns == 0) ns = 1;
    struct itimerspec its = {.it_interval = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)},
                             .it_value = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)}};
    if (timerfd_settime(tick_fd, 0, &its, NULL) < 0) die("timerfd_settime");
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &tick_sentinel};
    if (epoll_ctl(ep, EPOLL_CTL_ADD, tick_fd, &ev) < 0) die("epoll_ctl timerfd");
    rate_on = 1;
  }
  int pumping = opt_rate <= 0;
  pump_publisher(pub, subs, pumping);
  while (now_s() < warm_end) {
    poll_once(20);
    pump_publisher(pub, subs, pumping);
  }
  uint64_t m0 = total_msgs, tr0 = triggers_sent, i0[2] = {inst_msgs[0], inst_msgs[1]};
  uint64_t sk0 = skipped_publishes;
  for (int i = 0; i < subs; i++) conns[i].base = conns[i].received;
  double c0 = self_cpu_s(), s0 = proc_cpu_s(opt_server_pid), ts = now_s();
  double s20 = proc_cpu_s(opt_server_pid2), r0 = proc_cpu_s(opt_redis_pid);
  double mb0 = 0, ms0 = 0, mb1 = 0, ms1 = 0;
  int have_machine = machine_cpu_s(&mb0, &ms0);
  lat_from_ns = now_ns();
  lat_to_ns = UINT64_MAX;
  double end = ts + opt_duration;
  while (now_s() < end) {
    poll_once(20);
    pump_publisher(pub, subs, pumping);
  }
  lat_to_ns = now_ns();
  rate_on = 0;
  double te = now_s();
  uint64_t m1 = total_msgs, tr1 = triggers_sent, i1[2] = {inst_msgs[0], inst_msgs[1]};
  uint64_t sk1 = skipped_publishes;
  double c1 = self_cpu_s(), s1 = proc_cpu_s(opt_server_pid);
  double s21 = proc_cpu_s(opt_server_pid2), r1 = proc_cpu_s(opt_redis_pid);
  have_machine = have_machine && machine_cpu_s(&mb1, &ms1);
  uint64_t minr = UINT64_MAX, maxr = 0;
  for (int i = 0; i < subs; i++) {
    uint64_t r = conns[i].received - conns[i].base;
    if (r < minr) minr = r;
    if (r > maxr) maxr = r;
  }
  // Drain: no more triggers; wait until every delivery arrived or none arrives for 1 s.
  double last_progress = now_s();
  uint64_t last = total_msgs;
  while (total_msgs < triggers_sent * (uint64_t)subs && now_s() - last_progress < 1.0) {
    poll_once(20);
    if (total_msgs != last) {
      last = total_msgs;
      last_progress = now_s();
    }
  }
  uint64_t expected = triggers_sent * (uint64_t)subs;
  uint64_t missing = expected > total_msgs ? expected - total_msgs : 0;
  uint64_t extra = total_msgs > expected ? total_msgs - expected : 0;
  double secs = te - ts;
  int alive = 0, alive_inst[2] = {0, 0};
  for (int i = 0; i < subs; i++) {
    alive += conns[i].state == ST_OPEN;
    alive_inst[conns[i].inst] += conns[i].state == ST_OPEN;
  }
  printf("{\"mode\":\"broadcast\",\"size\":%zu,\"subscribers\":%d,\"window\":%d,\"text\":%s,"
         "\"seconds\":%.4f,\"broadcasts\":%llu,\"broadcasts_per_sec\":%.1f,"
         "\"deliveries\":%llu,\"deliveries_per_sec\":%.1f,\"mib_per_sec_in\":%.2f,"
         "\"loadgen_cpu\":%.3f,\"server_cpu\":%.3f,\"subscribers_alive\":%d,"
         "\"publisher_alive\":%s,\"min_sub_msgs\":%llu,\"max_sub_msgs\":%llu,"
         "\"missing\":%llu,\"extra\":%llu,\"to_publisher\":%llu,\"errors\":%llu,"
         "\"bad_len\":%llu,\"closes\":%llu,\"sync_triggers\":%d,\"sync_msgs\":%llu,"
         "\"connect_seconds\":%.3f,\"sync_seconds\":%.3f",
         opt_size, subs, opt_window, opt_text ? "true" : "false", secs,
         (unsigned long long)(tr1 - tr0), (double)(tr1 - tr0) / secs, (unsigned long long)(m1 - m0),
         (double)(m1 - m0) / secs, (double)(m1 - m0) * (double)opt_size / secs / 1048576.0,
         (c1 - c0) / secs, (s0 >= 0 && s1 >= 0) ? (s1 - s0) / secs : -1.0, alive,
         pub->state == ST_OPEN ? "true" : "false", (unsigned long long)minr,
         (unsigned long long)maxr, (unsigned long long)missing, (unsigned long long)extra,
         (unsigned long long)pub_received, (unsigned long long)errors, (unsigned long long)bad_len,
         (unsigned long long)closes_seen, sync_triggers, (unsigned long long)sync_msgs,
         t_open - t0, t_sync - t_open);
  if (opt_port2 || opt_socketio || opt_rate > 0 || opt_server_pid2 || opt_redis_pid ||
      opt_machine_cpu) {
    printf(",\"instances\":%d,\"socketio\":%s,\"deliveries_a\":%llu,\"deliveries_b\":%llu,"
           "\"subscribers_alive_a\":%d,\"subscribers_alive_b\":%d,\"server2_cpu\":%.3f,"
           "\"redis_cpu\":%.3f,\"machine_busy_cpus\":%.3f,\"machine_softirq_cpus\":%.3f,"
           "\"sio_pings\":%llu,\"sio_other\":%llu",
           opt_port2 ? 2 : 1, opt_socketio ? "true" : "false",
           (unsigned long long)(i1[0] - i0[0]), (unsigned long long)(i1[1] - i0[1]),
           alive_inst[0], alive_inst[1],
           (s20 >= 0 && s21 >= 0) ? (s21 - s20) / secs : -1.0,
           (r0 >= 0 && r1 >= 0) ? (r1 - r0) / secs : -1.0,
           have_machine ? (mb1 - mb0) / secs : -1.0, have_machine ? (ms1 - ms0) / secs : -1.0,
           (unsigned long long)sio_pings,
           (unsigned long long)sio_other);
  }
  if (opt_rate > 0) {
    printf(",\"rate\":%.1f,\"skipped_publishes\":%llu,\"bad_stamp\":%llu,\"lat_dropped\":%llu",
           opt_rate, (unsigned long long)(sk1 - sk0), (unsigned long long)bad_stamp,
           (unsigned long long)lat_dropped);
    print_latency("lat_a", lat[0], lat_n[0]);
    print_first_latency("first_a", 0);
    if (opt_port2) {
      print_latency("lat_b", lat[1], lat_n[1]);
      print_first_latency("first_b", 1);
    }
  }
  printf("}\n");
  return 0;
}

// ---- chat mode ----

static uint64_t chat_start_ns;  // when message 0 was due
static double chat_total_rate;  // messages per second over all connections
static uint64_t chat_dead_turns;  // a connection's turn came while it was dead

// Send every message due by now: message i goes to connection i % nconns at i / total rate.
static void chat_tick(void) {
  uint64_t due = (uint64_t)((double)(now_ns() - chat_start_ns) * chat_total_rate / 1e9) + 1;
  while (triggers_sent < due) {
    conn_t *c = &conns[triggers_sent % (uint64_t)nconns];
    if (c->state != ST_OPEN) {
      chat_dead_turns++;
      triggers_sent++;
      continue;
    }
    send_stamped(c);  // counts itself in triggers_sent
  }
}

static int run_chat(void) {
  mode_chat = 1;
  if (opt_rate <= 0) opt_rate = 1;
  if (opt_size < 24) opt_size = 24;  // room for the send time and sequence number
  build_payload();
  capture_head = 1;
  expect_len = opt_size;
  stamp_at = 0;
  nconns = opt_conns;
  conns = calloc((size_t)nconns, sizeof *conns);
  double t0 = now_s();
  int open = open_all(256, t0 + opt_timeout);
  if (open < nconns) {
    printf("{\"mode\":\"chat\",\"error\":\"only %d of %d connections upgraded\"}\n", open, nconns);
    return 1;
  }
  double t_open = now_s();
  chat_total_rate = opt_rate * (double)nconns;
  // Wake up often enough for a message at a time, but no more than every 100 us: the messages
  // due by then go out together.
  uint64_t ns = (uint64_t)(1e9 / chat_total_rate);
  if (ns < 100000) ns = 100000;
  tick_fd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (tick_fd < 0) die("timerfd_create");
  struct itimerspec its = {.it_interval = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)},
                           .it_value = {(time_t)(ns / 1000000000u), (long)(ns % 1000000000u)}};
  if (timerfd_settime(tick_fd, 0, &its, NULL) < 0) die("timerfd_settime");
  struct epoll_event ev = {.events = EPOLLIN, .data.ptr = &tick_sentinel};
  if (epoll_ctl(ep, EPOLL_CTL_ADD, tick_fd, &ev) < 0) die("epoll_ctl timerfd");
  chat_start_ns = now_ns();
  double warm_end = now_s() + opt_warmup;
  while (now_s() < warm_end) poll_once(20);
  uint64_t sent0 = triggers_sent, got0 = total_msgs;
  double c0 = self_cpu_s(), s0 = proc_cpu_s(opt_server_pid), ts = now_s();
  double mb0 = 0, ms0 = 0, mb1 = 0, ms1 = 0;
  int have_machine = machine_cpu_s(&mb0, &ms0);
  lat_from_ns = now_ns();
  lat_to_ns = UINT64_MAX;
  double end = ts + opt_duration;
  while (now_s() < end) poll_once(20);
  lat_to_ns = now_ns();
  double te = now_s();
  uint64_t sent1 = triggers_sent, got1 = total_msgs;
  double c1 = self_cpu_s(), s1 = proc_cpu_s(opt_server_pid);
  have_machine = have_machine && machine_cpu_s(&mb1, &ms1);
  // Stop sending; wait for the echoes still due, until none arrives for 1 s.
  struct itimerspec stop = {0};
  timerfd_settime(tick_fd, 0, &stop, NULL);
  uint64_t sent_total = triggers_sent - chat_dead_turns;
  double last_progress = now_s();
  uint64_t last = total_msgs;
  while (total_msgs < sent_total && now_s() - last_progress < 1.0) {
    poll_once(20);
    if (total_msgs != last) {
      last = total_msgs;
      last_progress = now_s();
    }
  }
  double secs = te - ts;
  printf("{\"mode\":\"chat\",\"conns\":%d,\"rate_per_conn\":%.3f,\"size\":%zu,\"text\":%s,"
         "\"seconds\":%.4f,\"sent\":%llu,\"sent_per_sec\":%.1f,\"echoes\":%llu,"
         "\"echoes_per_sec\":%.1f,\"missing\":%llu,\"dead_turns\":%llu,\"conns_alive\":%d,"
         "\"loadgen_cpu\":%.3f,\"server_cpu\":%.3f,\"errors\":%llu,\"bad_len\":%llu,"
         "\"bad_stamp\":%llu,\"lat_dropped\":%llu,\"closes\":%llu,\"connect_seconds\":%.3f,"
         "\"machine_busy_cpus\":%.3f,\"machine_softirq_cpus\":%.3f",
         nconns, opt_rate, opt_size, opt_text ? "true" : "false", secs,
         (unsigned long long)(sent1 - sent0), (double)(sent1 - sent0) / secs,
         (unsigned long long)(got1 - got0), (double)(got1 - got0) / secs,
         (unsigned long long)(sent_total > total_msgs ? sent_total - total_msgs : 0),
         (unsigned long long)chat_dead_turns, count_state(ST_OPEN), (c1 - c0) / secs,
         (s0 >= 0 && s1 >= 0) ? (s1 - s0) / secs : -1.0, (unsigned long long)errors,
         (unsigned long long)bad_len, (unsigned long long)bad_stamp,
         (unsigned long long)lat_dropped, (unsigned long long)closes_seen, t_open - t0,
         have_machine ? (mb1 - mb0) / secs : -1.0, have_machine ? (ms1 - ms0) / secs : -1.0);
  print_latency("lat", lat[0], lat_n[0]);
  printf("}\n");
  return 0;
}

static uint64_t parse_size(const char *s) {
  char *end;
  double v = strtod(s, &end);
  if (*end == 'k' || *end == 'K') v *= 1024;
  if (*end == 'm' || *end == 'M') v *= 1024 * 1024;
  return (uint64_t)v;
}

// `,"extensions_accepted":...` etc. when --extensions / --payload-file / --rsv1 were given.
static void print_compression_fields(void) {
  if (opt_extensions) {
    printf(",\"extensions_offered\":\"%s\",\"extensions_accepted\":\"%s\",\"ext_declined\":%llu",
           opt_extensions, ext_answer, (unsigned long long)ext_declined);
  }
  if (opt_payload_file) printf(",\"payloads\":%d,\"cycle_bytes\":%zu", cycle_frames, cycle_len);
  if (opt_rsv1) {
    printf(",\"compressed_replies\":%llu,\"plain_replies\":%llu",
           (unsigned long long)compressed_replies, (unsigned long long)plain_replies);
  }
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: loadgen <echo|hold|handshake|broadcast|chat> [options]\n");
    return 2;
  }
  const char *mode = argv[1];
  for (int i = 2; i < argc; i++) {
    const char *a = argv[i];
    const char *v = i + 1 < argc ? argv[i + 1] : "";
#define OPT(name) (strcmp(a, name) == 0 && ++i)
    if (OPT("--host")) opt_host = v;
    else if (OPT("--port")) opt_port = atoi(v);
    else if (OPT("--path")) opt_path = v;
    else if (OPT("--conns")) opt_conns = atoi(v);
    else if (OPT("--window")) opt_window = atoi(v);
    else if (OPT("--size")) opt_size = (size_t)parse_size(v);
    else if (OPT("--warmup")) opt_warmup = atof(v);
    else if (OPT("--duration")) opt_duration = atof(v);
    else if (OPT("--concurrency")) opt_concurrency = atoi(v);
    else if (OPT("--server-pid")) opt_server_pid = atoi(v);
    else if (OPT("--timeout")) opt_timeout = atof(v);
    else if (OPT("--port2")) opt_port2 = atoi(v);
    else if (OPT("--rate")) opt_rate = atof(v);
    else if (OPT("--server-pid2")) opt_server_pid2 = atoi(v);
    else if (OPT("--redis-pid")) opt_redis_pid = atoi(v);
    else if (OPT("--extensions")) opt_extensions = v;
    else if (OPT("--payload-file")) opt_payload_file = v;
    else if (strcmp(a, "--rsv1") == 0) opt_rsv1 = 1;
    else if (strcmp(a, "--socketio") == 0) opt_socketio = 1;
    else if (strcmp(a, "--machine-cpu") == 0) opt_machine_cpu = 1;
    else if (strcmp(a, "--text") == 0) opt_text = 1;
    else if (strcmp(a, "--wait-eof") == 0) opt_wait_eof = 1;
    else {
      fprintf(stderr, "loadgen: unknown option %s\n", a);
      return 2;
    }
  }
  if (strcmp(mode, "broadcast") == 0 && strcmp(opt_path, "/") == 0) {
    opt_path = opt_socketio ? "/socket.io/?EIO=4&transport=websocket&role=sub" : "/sub";
  }
  const char *pub_path = opt_socketio ? "/socket.io/?EIO=4&transport=websocket&role=pub" : "/pub";
  expect_len = opt_size;
  signal(SIGPIPE, SIG_IGN);
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  server_addr.sin_family = AF_INET;
  server_addr.sin_port = htons((uint16_t)opt_port);
  if (inet_pton(AF_INET, opt_host, &server_addr.sin_addr) != 1) {
    fprintf(stderr, "loadgen: bad host %s\n", opt_host);
    return 2;
  }
  server_addr2 = server_addr;
  server_addr2.sin_port = htons((uint16_t)opt_port2);
  if (opt_extensions && strlen(opt_extensions) > 200) {
    fprintf(stderr, "loadgen: --extensions too long\n");
    return 2;
  }
  char ext_header[256] = "";
  if (opt_extensions) {
    snprintf(ext_header, sizeof ext_header, "Sec-WebSocket-Extensions: %s\r\n", opt_extensions);
  }
  request_len = (size_t)snprintf(request, sizeof request,
                                 "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                                 "Connection: Upgrade\r\n"
                                 "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                 "Sec-WebSocket-Version: 13\r\n%s\r\n",
                                 opt_path, opt_host, opt_port, ext_header);
  pub_request_len = (size_t)snprintf(pub_request, sizeof pub_request,
                                     "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                                     "Connection: Upgrade\r\n"
                                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                     "Sec-WebSocket-Version: 13\r\n\r\n",
                                     pub_path, opt_host, opt_port);
  sub_request2_len = (size_t)snprintf(sub_request2, sizeof sub_request2,
                                      "GET %s HTTP/1.1\r\nHost: %s:%d\r\nUpgrade: websocket\r\n"
                                      "Connection: Upgrade\r\n"
                                      "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                                      "Sec-WebSocket-Version: 13\r\n\r\n",
                                      opt_path, opt_host, opt_port2);
  ep = epoll_create1(EPOLL_CLOEXEC);
  if (ep < 0) die("epoll_create1");

  if (strcmp(mode, "echo") == 0) {
    mode_echo_like = 1;
    build_frames();
    nconns = opt_conns;
    conns = calloc((size_t)nconns, sizeof *conns);
    double t0 = now_s();
    int open = open_all(nconns, t0 + opt_timeout);
    if (open < nconns) {
      printf("{\"mode\":\"echo\",\"error\":\"only %d of %d connections upgraded%s\"}\n", open,
             nconns, ext_declined ? " (the server declined the extension)" : "");
      return 1;
    }
    double t_open = now_s();
    start_load();
    double warm_end = t_open + opt_warmup;
    while (now_s() < warm_end) poll_once(20);
    uint64_t m0 = total_msgs, b0 = total_bytes_in;
    double c0 = self_cpu_s(), s0 = proc_cpu_s(opt_server_pid), ts = now_s();
    double end = ts + opt_duration;
    while (now_s() < end) poll_once(20);
    double te = now_s();
    uint64_t m1 = total_msgs, b1 = total_bytes_in;
    double c1 = self_cpu_s(), s1 = proc_cpu_s(opt_server_pid);
    double secs = te - ts;
    uint64_t minr = UINT64_MAX, maxr = 0;
    for (int i = 0; i < nconns; i++) {
      if (conns[i].received < minr) minr = conns[i].received;
      if (conns[i].received > maxr) maxr = conns[i].received;
    }
    printf("{\"mode\":\"echo\",\"size\":%zu,\"conns\":%d,\"window\":%d,\"text\":%s,"
           "\"seconds\":%.4f,\"messages\":%llu,\"msgs_per_sec\":%.1f,\"mib_per_sec_in\":%.2f,"
           "\"loadgen_cpu\":%.3f,\"server_cpu\":%.3f,\"conns_alive\":%d,"
           "\"min_conn_msgs\":%llu,\"max_conn_msgs\":%llu,\"errors\":%llu,\"bad_len\":%llu,"
           "\"closes\":%llu,\"connect_seconds\":%.3f",
           opt_size, nconns, opt_window, opt_text ? "true" : "false", secs,
           (unsigned long long)(m1 - m0), (double)(m1 - m0) / secs,
           (double)(b1 - b0) / secs / 1048576.0, (c1 - c0) / secs,
           (s0 >= 0 && s1 >= 0) ? (s1 - s0) / secs : -1.0, count_state(ST_OPEN),
           (unsigned long long)minr, (unsigned long long)maxr, (unsigned long long)errors,
           (unsigned long long)bad_len, (unsigned long long)closes_seen, t_open - t0);
    print_compression_fields();
    printf("}\n");
    return 0;
  }

  if (strcmp(mode, "hold") == 0) {
    nconns = opt_conns;
    conns = calloc((size_t)nconns, sizeof *conns);
    double t0 = now_s();
    int open = open_all(opt_concurrency > 0 ? opt_concurrency : 256, t0 + opt_timeout);
    double t1 = now_s();
    printf("held %d\n", open);
    fflush(stdout);
    // Keep draining (pings etc.) until stdin closes or the timeout passes.
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    epoll_ctl(ep, EPOLL_CTL_ADD, 0, &ev);
    double deadline = now_s() + opt_timeout;
    int done = 0;
    while (!done && now_s() < deadline) {
      struct epoll_event evs[256];
      int n = epoll_wait(ep, evs, 256, 100);
      for (int i = 0; i < n; i++) {
        conn_t *c = evs[i].data.ptr;
        if (!c) {
          char tmp[256];
          ssize_t r = read(0, tmp, sizeof tmp);
          if (r <= 0) done = 1;
          continue;
        }
        if (c->state == ST_DEAD) continue;
        ssize_t r = recv(c->fd, rbuf, sizeof rbuf, 0);
        if (r == 0 || (r < 0 && errno != EAGAIN)) conn_kill(c);
      }
    }
    printf("{\"mode\":\"hold\",\"requested\":%d,\"opened\":%d,\"still_open\":%d,"
           "\"open_seconds\":%.3f,\"errors\":%llu",
           nconns, open, count_state(ST_OPEN), t1 - t0, (unsigned long long)errors);
    print_compression_fields();
    printf("}\n");
    return 0;
  }

  if (strcmp(mode, "handshake") == 0) {
    mode_handshake = 1;
    nconns = opt_concurrency;
    conns = calloc((size_t)nconns, sizeof *conns);
    for (int i = 0; i < nconns; i++) conn_start(&conns[i]);
    double warm_end = now_s() + opt_warmup;
    while (now_s() < warm_end) {
      poll_once(20);
      reap_closed(now_s());
    }
    uint64_t h0 = handshakes_done, u0 = upgrades_done, e0 = errors, n0 = no_eof;
    double c0 = self_cpu_s(), s0 = proc_cpu_s(opt_server_pid), ts = now_s();
    double end = ts + opt_duration;
    while (now_s() < end) {
      poll_once(20);
      reap_closed(now_s());
    }
    double te = now_s();
    uint64_t h1 = handshakes_done, u1 = upgrades_done, e1 = errors, n1 = no_eof;
    double c1 = self_cpu_s(), s1 = proc_cpu_s(opt_server_pid);
    double secs = te - ts;
    printf("{\"mode\":\"handshake\",\"concurrency\":%d,\"seconds\":%.4f,\"cycles\":%llu,"
           "\"cycles_per_sec\":%.1f,\"upgrades_per_sec\":%.1f,\"loadgen_cpu\":%.3f,"
           "\"server_cpu\":%.3f,\"errors\":%llu,\"no_tcp_close_from_server\":%llu}\n",
           nconns, secs, (unsigned long long)(h1 - h0), (double)(h1 - h0) / secs,
           (double)(u1 - u0) / secs, (c1 - c0) / secs,
           (s0 >= 0 && s1 >= 0) ? (s1 - s0) / secs : -1.0, (unsigned long long)(e1 - e0),
           (unsigned long long)(n1 - n0));
    return 0;
  }

  if (strcmp(mode, "broadcast") == 0) return run_broadcast();
  if (strcmp(mode, "chat") == 0) return run_chat();

  fprintf(stderr, "loadgen: unknown mode %s\n", mode);
  return 2;
}
