#!/usr/bin/env bash
# Every check and benchmark that needs a CUDA GPU, in one run with a time budget.
#
#   bash benchmarks/gpu_run.sh OUTDIR [SECONDS]
#
# From the repository root of a machine with a CUDA GPU and the project's dependencies
# (wheels of missing ones may lie in .whl/; they are installed to /tmp/site). Runs, each
# with a time limit, writing OUTDIR/<step>.log:
#   tests      the tests that need a GPU (CUDA kernels = CPU backend; stacked training and
#              phase-diagram cells on the GPU = CPU);
#   sweep_gpu  benchmarks/bench_sweep.py --backend cuda (Fig. 3 diagram, 4000 chains/cell);
#   sweep_cpu  benchmarks/bench_sweep.py on this machine's CPU cores, for the ratio;
#   panel_*    the four DNN phase-diagram panels (paper values, 10 seeds) on the GPU, run
#              side by side as four processes until the budget (default 530 s) is spent.
# Record what it prints in benchmarks/RESULTS.md with the device named.
set -u
out=${1:?usage: gpu_run.sh OUTDIR [SECONDS]}
budget=${2:-530}
start=$(date +%s)
mkdir -p "$out"
export PYTHONUNBUFFERED=1 PYTHONPATH=$PWD${PYTHONPATH:+:$PYTHONPATH}
if compgen -G ".whl/*.whl" >/dev/null; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl && export PYTHONPATH=/tmp/site:$PYTHONPATH
fi

run() {  # run NAME LIMIT COMMAND...: COMMAND's output to OUTDIR/NAME.log, then its tail
    local name=$1 limit=$2 t0=$(date +%s)
    shift 2
    timeout "$limit" "$@" >"$out/$name.log" 2>&1
    echo "== $name: rc $? after $(($(date +%s) - t0)) s (limit $limit s)"
    grep -v -E '^\s*$' "$out/$name.log" | tail -n 12
}

{
    nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm \
        --format=csv
    python3 -c "import platform, numba, numpy, torch, xarray; from numba import cuda; \
print(platform.python_version(), 'numba', numba.__version__, 'numpy', numpy.__version__, \
'torch', torch.__version__, 'xarray', xarray.__version__); \
name = cuda.get_current_device().name; \
print('numba.cuda device:', name.decode() if isinstance(name, bytes) else name); \
print('torch device:', torch.cuda.get_device_name(0))"
    lscpu | grep -E 'Model name|^CPU\(s\)'
} >"$out/machine.log" 2>&1
cat "$out/machine.log"

run tests 200 python3 -m pytest -q -p no:cacheprovider tests/test_cuda.py \
    tests/dnn/test_dnn_batched.py tests/dnn/test_dnn_phase.py -k "gpu or masks_are_drawn"
run sweep_gpu 120 python3 benchmarks/bench_sweep.py --backend cuda --chains 4000 \
    --numpy-steps 3 --repeat 2
run sweep_cpu 80 python3 benchmarks/bench_sweep.py --repeat 2

left=$((budget - ($(date +%s) - start)))
echo "== panels: $left s left, four processes side by side"
pids=()
for spec in label_noise:4 lr:2 batch_size:2 dropout:8; do
    axis=${spec%%:*} threads=${spec##*:}
    timeout "$left" python3 benchmarks/bench_dnn.py panel --axis "$axis" --seeds 10 \
        --device cuda --threads "$threads" >"$out/panel_$axis.log" 2>&1 &
    pids+=($!)
done
for i in "${!pids[@]}"; do wait "${pids[$i]}"; echo "panel $i: rc $?"; done
for axis in label_noise lr batch_size dropout; do
    echo "== panel $axis"
    # the last progress update (cells done, elapsed time) and the result lines
    tr '\r' '\n' <"$out/panel_$axis.log" | grep -E 'dnn ' | tail -n 1
    grep -E 'wall time|^ReLU|most linear|correlation|Error|error' "$out/panel_$axis.log" | head -n 8
done
echo "total $(($(date +%s) - start)) s"
