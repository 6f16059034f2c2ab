#!/usr/bin/env bash
# The one prepared script for a lent GPU machine (issue 9 section 4): environment, then the bench
# cases one at a time (GPU targets first), each case's JSON a line of $OUT/bench.jsonl (stderr in
# $OUT/bench.log), so a case that fails or a run cut at its limit keeps every case finished before it. Usage there:
#   bash benchmarks/gpu.sh            (OUT defaults to ./gpu-out; BUDGET_S, default 520, bounds it)
set -u
OUT=${OUT:-gpu-out}; mkdir -p "$OUT"
export PYTHONPATH=$PWD PYTHONUNBUFFERED=1
PY=${PY:-python3}
start=$(date +%s); budget=${BUDGET_S:-520}
{
  date -u; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv; nproc
  $PY -c "import jax, jaxlib, flax, optax, torch; print('jax', jax.__version__, jax.devices(), 'flax', flax.__version__, 'optax', optax.__version__, 'torch', torch.__version__)"
} > "$OUT/env.txt" 2>&1
cat "$OUT/env.txt"
rm -f "$OUT/bench.jsonl" "$OUT/bench.log"
for case in expfam-gaussian-N64 neural-vae-N8 neural-paper-mnist hetero-4cap multimodal-round \
            sweep-peer sweep-1000 scale-players expfam-scaling-m neural-sweep; do
  left=$(( budget - ($(date +%s) - start) ))
  if [ "$left" -lt 30 ]; then echo "skip $case (budget)"; continue; fi
  echo "== $case (at most ${left}s) $(date -u +%T)"
  t0=$(date +%s)
  echo "== $case" >> "$OUT/bench.log"
  timeout "$left" $PY -m gtgen.cli bench --only "$case" --json > "$OUT/case.json" 2>> "$OUT/bench.log"
  rc=$?; tr -d '\n' < "$OUT/case.json" >> "$OUT/bench.jsonl"; echo >> "$OUT/bench.jsonl"
  echo "rc $rc in $(( $(date +%s) - t0 ))s"; tail -3 "$OUT/bench.log"
done
rm -f "$OUT/case.json"
