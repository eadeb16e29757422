#!/usr/bin/env bash
# integration.daemon.metrics: Prometheus metrics end to end, no guests.
# Four fake guests (tools/fake_fleet.c), ballastd with metrics_listen on a
# free loopback port. One guest is made to grow (a PRESSURE frame), so the
# growth counters and the latency histogram have something in them. Then:
# `ballastctl metrics` and GET /metrics agree with `status --json`;
# another path is 404, another method 405; `promtool check metrics` passes
# on both; an invalid metrics_listen is a configuration error with
# file:line; a second ballastd on the same port logs a clear error and
# keeps running without the listener; last, a real Prometheus (Debian's
# package) on loopback scrapes ballastd and a value is read back through
# its HTTP API (/api/v1/query). Every process is stopped by PID, however
# the test ends (lib.sh's trap).
source "$(dirname "$0")/lib.sh"
command -v jq >/dev/null || skip "jq not installed"
command -v curl >/dev/null || skip "curl not installed"
fake=$build/tests/fake-fleet
[[ -x $fake ]] || skip "fake-fleet not built"
n=4
free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
port=$(free_port)
url=http://127.0.0.1:$port

# A bad address is a configuration error with file:line, found by --check-config.
bad=$state/bad-conf
mkdir -p "$bad"
printf '[ballastd]\nmetrics_listen = localhost:%s\n' "$port" >"$bad/ballastd.conf"
out=$("$bin/ballastd" --check-config "$bad" 2>&1) && fail "metrics_listen = localhost accepted"
grep -q "ballastd.conf:2: metrics_listen = localhost:$port: not an IPv4 address" <<<"$out" ||
  fail "bad metrics_listen not reported with file:line: $out"
ok "invalid metrics_listen: configuration error with file:line"

printf '[ballastd]\ntick_interval_ms = 1000\nksm_mode = observe\nmetrics_listen = 127.0.0.1:%s\n' \
  "$port" >"$conf/ballastd.conf"
coproc FAKE { exec "$fake" "$state" "$n" --memory 256 --actual 128 --used 64; }
extra_pids+=("$FAKE_PID")
if ! read -r -t 10 line <&"${FAKE[0]}" || [[ $line != ready ]]; then
  fail "fake fleet did not start"
fi
fake_cmd() { # CMD...: one command to the fakes; prints their answer
  echo "$*" >&"${FAKE[1]}"
  while read -r -t 5 line <&"${FAKE[0]}" && [[ $line != end ]]; do echo "$line"; done
}
start_daemon --config-dir "$conf"
grep -q "metrics: serving $url/metrics" "$state/ballastd.log" ||
  fail "listener not announced: $(cat "$state/ballastd.log")"
connected() {
  status_json | jq -e --argjson n "$n" '[.vms[] | select(.qmp == "connected" and .agent == "connected")] | length == $n'
}
wait_for 20 connected || fail "the fake guests were not all connected"
sleep 1.5
fake_cmd pressure fake1 >/dev/null
grown() {
  status_json | jq -e '(.vms[] | select(.name == "fake1") | .grows >= 1)
    and .host.grow_latency.count >= 1'
}
wait_for 10 grown || fail "no growth measured: $(status_json | jq -c '.host.grow_latency, .vms[1]')"
ok "a growth: counted and its latency measured"

# The same figures three ways: status --json, ballastctl metrics, GET /metrics.
ctl metrics >"$state/ctl.prom" || fail "ballastctl metrics failed"
curl -sS -D "$state/headers" -o "$state/http.prom" "$url/metrics" || fail "GET /metrics failed"
grep -qi '^Content-Type: text/plain; version=0.0.4' "$state/headers" ||
  fail "Content-Type: $(cat "$state/headers")"
status_json >"$state/status.json"
value() { # FILE SERIES: the value of one series (exact name and labels)
  awk -v s="$2" '$1 == s {print $2}' "$1"
}
for f in ctl.prom http.prom; do
  for vm in fake0 fake1 fake2 fake3; do
    want=$(jq --arg v "$vm" '.vms[] | select(.name == $v) | .nominal_bytes' "$state/status.json")
    got=$(value "$state/$f" "ballast_vm_nominal_bytes{vm=\"$vm\"}")
    [[ $got == "$want" ]] || fail "$f: nominal of $vm is '$got', status says $want"
  done
  grows=$(value "$state/$f" 'ballast_vm_grows_total{vm="fake1"}')
  ((grows >= 1)) || fail "$f: fake1's growths '$grows'"
  cnt=$(value "$state/$f" 'ballast_grow_latency_seconds_count')
  inf=$(value "$state/$f" 'ballast_grow_latency_seconds_bucket{le="+Inf"}')
  if ((cnt < 1)) || [[ $inf != "$cnt" ]]; then fail "$f: histogram count $cnt, +Inf bucket $inf"; fi
  grep -q '^ballast_vm_info{vm="fake2",mode="managed",source="fleet"' "$state/$f" ||
    fail "$f: no info gauge for fake2"
  rss=$(value "$state/$f" 'ballast_process_resident_memory_bytes')
  ((rss > 0)) || fail "$f: ballastd's RSS '$rss'"
  grep -q '^ballast_fleet_headroom_bytes ' "$state/$f" || fail "$f: no headroom"
done
ok "ballastctl metrics and GET /metrics agree with status --json"

code=$(curl -s -o "$state/404" -w '%{http_code}' "$url/")
[[ $code == 404 ]] || fail "GET / answered $code"
code=$(curl -s -o /dev/null -w '%{http_code}' "$url/metrics/../debug")
[[ $code == 404 ]] || fail "GET /debug answered $code"
code=$(curl -s -o /dev/null -w '%{http_code}' -X POST "$url/metrics")
[[ $code == 405 ]] || fail "POST /metrics answered $code"
big=$(head -c 8000 /dev/zero | tr '\0' a)
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $big" "$url/metrics")
[[ $code == 431 ]] || fail "8 KB of headers answered $code"
ctl ping >/dev/null || fail "ballastd gone after bad requests"
ok "unknown path 404, POST 405, oversized request 431; ballastd still answers"

# A second ballastd with the same metrics_listen: the port is taken, it says
# so and runs on without the listener; the first keeps serving.
mkdir -p "$state/second"
"$bin/ballastd" --fleet "$state/second" --socket "$state/second.sock" --config-dir "$conf" \
  >"$state/second.log" 2>&1 &
second_pid=$!
extra_pids+=("$second_pid")
wait_for 10 "$bin/ballastctl" --socket "$state/second.sock" ping ||
  fail "second ballastd did not run on without its listener: $(cat "$state/second.log")"
grep -q "metrics_listen = 127.0.0.1:$port: cannot listen: 127.0.0.1:$port: Address already in use; ballastd runs without the metrics listener" \
  "$state/second.log" || fail "busy port not said clearly: $(cat "$state/second.log")"
m=$("$bin/ballastctl" --socket "$state/second.sock" metrics) || fail "second ballastctl metrics failed"
grep -q '^ballast_vms 0$' <<<"$m" || fail "second ballastd's ballastctl metrics wrong"
m=$(curl -sf "$url/metrics") || fail "first listener gone"
grep -q '^ballast_vms 4$' <<<"$m" || fail "first listener serves something else"
kill "$second_pid"
wait "$second_pid" || true
ok "port in use: a clear error, the daemon runs on without the listener"

# promtool's own check of the real output.
if ! command -v promtool >/dev/null; then
  skip "promtool not installed (Debian package prometheus; scripts/setup installs it): the checks above passed, promtool and Prometheus not run"
fi
for f in ctl.prom http.prom; do
  promtool check metrics <"$state/$f" >"$state/promtool.out" 2>&1 ||
    fail "promtool check metrics on $f: $(cat "$state/promtool.out")"
done
ok "promtool check metrics: clean on both"

# A real Prometheus on loopback scrapes the listener; a value comes back
# through its HTTP API.
prom=$(command -v prometheus || true)
[[ -x /usr/bin/prometheus ]] && prom=/usr/bin/prometheus
[[ -n $prom ]] || skip "prometheus not installed (Debian package prometheus): promtool passed, the scrape was not tested"
prom_port=$(free_port)
mkdir -p "$state/prom/data"
cat >"$state/prom/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: ballast
    static_configs:
      - targets: ['127.0.0.1:$port']
YAML
"$prom" --config.file="$state/prom/prometheus.yml" --storage.tsdb.path="$state/prom/data" \
  --web.listen-address="127.0.0.1:$prom_port" >"$state/prom/log" 2>&1 &
extra_pids+=("$!")
wait_for 30 curl -sf "http://127.0.0.1:$prom_port/-/ready" ||
  fail "Prometheus not ready: $(tail -5 "$state/prom/log")"
want=$(jq '.vms[] | select(.name == "fake2") | .nominal_bytes' "$state/status.json")
scraped() {
  curl -sf -G "http://127.0.0.1:$prom_port/api/v1/query" \
    --data-urlencode 'query=ballast_vm_nominal_bytes{vm="fake2"}' |
    jq -e --arg w "$want" '.status == "success" and .data.result[0].value[1] == $w'
}
wait_for 30 scraped || fail "Prometheus did not read fake2's nominal size back: $(curl -s -G \
  "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode 'query=ballast_vm_nominal_bytes')"
up=$(curl -sf -G "http://127.0.0.1:$prom_port/api/v1/query" --data-urlencode 'query=up{job="ballast"}' |
  jq -r '.data.result[0].value[1]')
[[ $up == 1 ]] || fail "Prometheus says the target is not up ($up)"
ok "Prometheus scraped ballastd: ballast_vm_nominal_bytes{vm=\"fake2\"} = $want read back from /api/v1/query"
