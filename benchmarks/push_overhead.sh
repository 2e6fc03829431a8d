#!/bin/bash
# push_overhead.sh  The agent's CPU and memory tracing fio at 50k pread64/s for 15 s: no push,
# --remote-write to a live Prometheus every second, and to a receiver that never answers.
# Needs root, fio, prometheus, python3. Run: flock /tmp/ioscope-test.lock bash benchmarks/push_overhead.sh
# Prints /usr/bin/time figures (user+sys CPU s, max RSS KiB, wall s) and each Run's pread64 rate.
set -e
ROOT=$(cd "$(dirname "$0")/.." && pwd)
D=$(mktemp -d); cd $D
head -c 32M /dev/zero > f.dat
PORT=19391
prometheus --config.file=/dev/null --storage.tsdb.path=$D/p --web.listen-address=127.0.0.1:$PORT --enable-feature=native-histograms --web.enable-remote-write-receiver --log.level=error >/dev/null 2>&1 &
PP=$!
sleep 3
python3 -c "import socket,time;s=socket.socket();s.bind(('127.0.0.1',19392));s.listen(100);time.sleep(100)" &
DEAD=$!
for mode in none live dead none live dead; do
  fio --name=b --filename=f.dat --size=32M --rw=randread --bs=4k --ioengine=psync --thread --invalidate=0 --time_based --runtime=25 --rate_iops=50000 --output=/dev/null &
  F=$!
  sleep 1
  case $mode in none) X="";; live) X="--remote-write http://127.0.0.1:$PORT/api/v1/write --push-interval 1s";; dead) X="--remote-write http://127.0.0.1:19392/api/v1/write --push-interval 1s";; esac
  /usr/bin/time -f "$mode cpu_s=%U+%S maxrss_kb=%M wall=%e" deno run -A "$ROOT/mod.ts" trace --pid $F --duration 15s $X --json $D/r-$mode.json >/dev/null 2>$D/err-$mode || true
  tail -1 $D/err-$mode
  python3 -c "import json;r=json.load(open('$D/r-$mode.json'));s=r['syscalls']['pread64'];print('  pread64/s',round(s['count']/r['meta']['duration_s']),'p50',s['p50_ns'],'exports',r['meta'].get('exports'))"
  kill $F; wait $F 2>/dev/null || true
done
kill $PP $DEAD
rm -rf $D
