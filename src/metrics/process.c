/* metrics/process: the process_* metrics of the Prometheus client
 * conventions, read from /proc/self/stat (CPU times, start time, virtual
 * size, resident pages), /proc/stat (boot time), /proc/self/fd and
 * RLIMIT_NOFILE. A file that cannot be read leaves its metrics out. */
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "metrics/metrics_internal.h"

typedef struct {
  double cpu_seconds;
  double start_time_seconds;
  double virtual_bytes;
  double resident_bytes;
} proc_stat_t;

/* Reads all of a small /proc file into buf (NUL-terminated); 0 or -1. */
static int read_small_file(const char *path, char *buf, size_t size) {
  FILE *f = fopen(path, "r");
  if (!f) return -1;
  size_t n = fread(buf, 1, size - 1, f);
  fclose(f);
  buf[n] = '\0';
  return n > 0 ? 0 : -1;
}

static int boot_time(double *seconds) {
  char buf[8192];
  if (read_small_file("/proc/stat", buf, sizeof buf) != 0) return -1;
  const char *line = strstr(buf, "\nbtime ");
  unsigned long long btime;
  if (!line || sscanf(line + 7, "%llu", &btime) != 1) return -1;
  *seconds = (double)btime;
  return 0;
}

/* Fields after the command name (which may hold spaces and parentheses:
 * parse from the last ')'): 14 utime, 15 stime, 22 starttime, 23 vsize,
 * 24 rss, counting from 1 at the pid. */
static int read_proc_stat(proc_stat_t *st) {
  char buf[2048];
  if (read_small_file("/proc/self/stat", buf, sizeof buf) != 0) return -1;
  const char *p = strrchr(buf, ')');
  unsigned long long utime, stime, start, vsize;
  long long rss;
  if (!p || sscanf(p + 2,
                   "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu "
                   "%*d %*d %*d %*d %*d %*d %llu %llu %lld",
                   &utime, &stime, &start, &vsize, &rss) != 5)
    return -1;
  double ticks = (double)sysconf(_SC_CLK_TCK), boot;
  if (ticks <= 0 || boot_time(&boot) != 0) return -1;
  st->cpu_seconds = (double)(utime + stime) / ticks;
  st->start_time_seconds = boot + (double)start / ticks;
  st->virtual_bytes = (double)vsize;
  st->resident_bytes = (double)rss * (double)sysconf(_SC_PAGESIZE);
  return 0;
}

static int count_open_fds(double *count) {
  DIR *dir = opendir("/proc/self/fd");
  if (!dir) return -1;
  long n = 0;
  for (struct dirent *e; (e = readdir(dir));)
    if (e->d_name[0] != '.') n++;
  closedir(dir);
  *count = (double)(n - 1); /* the directory's own descriptor */
  return 0;
}

static int render_one(tarmac_buffer_t *out, const char *name, const char *help,
                      tarmac_metric_type_t type, double value) {
  if (metrics_render_header(out, name, help, type) != 0 ||
      tarmac_buffer_appendf(out, "%s ", name) != 0 ||
      tarmac_metrics_append_value(out, value) != 0)
    return -1;
  return tarmac_buffer_append_str(out, "\n");
}

int metrics_render_process(tarmac_buffer_t *out) {
  proc_stat_t st;
  if (read_proc_stat(&st) == 0 &&
      (render_one(out, "process_cpu_seconds_total",
                  "Total user and system CPU time spent in seconds.",
                  TARMAC_METRIC_COUNTER, st.cpu_seconds) != 0 ||
       render_one(out, "process_resident_memory_bytes",
                  "Resident memory size in bytes.", TARMAC_METRIC_GAUGE,
                  st.resident_bytes) != 0 ||
       render_one(out, "process_virtual_memory_bytes",
                  "Virtual memory size in bytes.", TARMAC_METRIC_GAUGE,
                  st.virtual_bytes) != 0 ||
       render_one(out, "process_start_time_seconds",
                  "Start time of the process since unix epoch in seconds.",
                  TARMAC_METRIC_GAUGE, st.start_time_seconds) != 0))
    return -1;
  double fds;
  if (count_open_fds(&fds) == 0 &&
      render_one(out, "process_open_fds", "Number of open file descriptors.",
                 TARMAC_METRIC_GAUGE, fds) != 0)
    return -1;
  struct rlimit limit;
  if (getrlimit(RLIMIT_NOFILE, &limit) == 0 &&
      render_one(out, "process_max_fds",
                 "Maximum number of open file descriptors.",
                 TARMAC_METRIC_GAUGE,
                 limit.rlim_cur == RLIM_INFINITY ? INFINITY
                                                 : (double)limit.rlim_cur) != 0)
    return -1;
  return 0;
}
