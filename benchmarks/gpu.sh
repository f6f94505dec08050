#!/usr/bin/env bash
# The GPU benchmark set of issue 12, in one command, writing one JSON file of all figures.
#
#   benchmarks/gpu.sh [OUT.json]          on a CUDA GPU; about 10 minutes on one H100/H200
#   benchmarks/gpu.sh --cpu [OUT.json]    the same code paths on the CPU with tiny sizes
#                                         (about two minutes on 2 loaded cores); its
#                                         figures check that the scripts work, they are
#                                         not measurements
#   benchmarks/gpu.sh --only reproduce    only the named steps (comma-separated), e.g. the
#                                         reproduction path alone in about 2 minutes
#
# OUT.json defaults to benchmarks/gpu_results.json. Steps, each its own process with a
# time limit, each writing its figures as JSON (merged by benchmarks/gpu_results.py):
#   step_overhead  trainer step vs a bare loop, ce/kd/dkd/crd and ASIB's W/A/B/joint,
#                  then one epoch per arm under torch.cuda.set_sync_debug_mode("error")
#                  (on the CPU: host reads counted) to show no step waits on the device
#   kd_throughput  resnet32x4 -> resnet8x4 KD: fp32, bf16, compiled, reduce-overhead;
#                  ms per 64-image step, images/s, FLOP/s and share of the bf16 peak
#                  (--cpu: fp32 and bf16 only; torch.compile on a 2-core CPU takes
#                  ~45 s for the tiny pair, add --with-compile to include it)
#   data_pipeline  on-device batches vs a torchvision DataLoader
#   packing        trials per hour at 1, 2 and 4 trials per GPU (--cpu: 1 vs 2 CPU trials)
#   reproduce      the reproduction path end to end (benchmarks/reproduce_check.py): the
#                  shipped reproduce config, a random teacher file in the published
#                  layout saved from CUDA tensors, random CIFAR-shaped data, the CLI's
#                  import, ce/kd/crd/dkd trials and report (--cpu: resnet56 -> resnet20)
# A step that fails or runs out of its time is listed under `failed` in the JSON and
# the script exits 1 after writing the rest; the others still run.
# The Python is $PYTHON, else the checkout's .venv/bin/python, else python3; the
# checkout comes first on PYTHONPATH so its code is what runs.
set -euo pipefail

usage() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
}

mode=gpu
with_compile=0
out=""
only=""
while (($# > 0)); do
    case "$1" in
        --cpu) mode=cpu ;;
        --with-compile) with_compile=1 ;;
        --only)
            if (($# < 2)); then
                echo "gpu.sh: --only needs step names, e.g. --only reproduce" >&2
                exit 2
            fi
            only=$2
            shift
            ;;
        -h | --help) usage; exit 0 ;;
        -*) echo "gpu.sh: unknown option: $1" >&2; usage >&2; exit 2 ;;
        *)
            if [[ -n "$out" ]]; then
                echo "gpu.sh: only one output path, got '$out' and '$1'" >&2
                exit 2
            fi
            out=$1
            ;;
    esac
    shift
done

known_steps=step_overhead,kd_throughput,data_pipeline,packing,reproduce
for name in ${only//,/ }; do
    if [[ ",$known_steps," != *",$name,"* ]]; then
        echo "gpu.sh: --only: unknown step '$name' (steps: $known_steps)" >&2
        exit 2
    fi
done

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(dirname "$here")
out=${out:-$here/gpu_results.json}
if [[ -n "${PYTHON:-}" ]]; then
    python=$PYTHON
elif [[ -x "$repo/.venv/bin/python" ]]; then
    python=$repo/.venv/bin/python
else
    python=python3
fi
export PYTHONPATH="$repo${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
parts=$(mktemp -d "${TMPDIR:-/tmp}/gpu-bench.XXXXXX")
trap 'rm -rf -- "$parts"' EXIT
started=$SECONDS
failed=0

echo "== benchmarks/gpu.sh ($mode mode), $(date '+%Y-%m-%d %H:%M:%S'), python $python"
if command -v nvidia-smi >/dev/null 2>&1; then
    nvidia-smi --query-gpu=name,memory.total --format=csv | tee "$parts/nvidia-smi.csv" || true
else
    echo "nvidia-smi: not found on this machine" | tee "$parts/nvidia-smi.csv"
fi

if [[ $mode == gpu ]] && ! "$python" -c 'import sys, torch; sys.exit(0 if torch.cuda.is_available() else 3)'; then
    echo "gpu.sh: torch sees no CUDA device here; run benchmarks/gpu.sh --cpu for the CPU check" >&2
    exit 2
fi

if [[ $mode == cpu ]]; then
    echo "--cpu: tiny sizes on the CPU; the figures check the code paths, they are not measurements"
    export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1}
    device=(--device cpu)
    step_args=(--tiny --batches 2 --repeats 1)
    kd_args=(--tiny --steps 2 --repeats 1)
    if ((with_compile)); then
        kd_args+=(--variants fp32,bf16,compile)
    fi
    pipeline_args=(--images 1000 --repeats 2 --workers 1)
    packing_args=(--cpu)
    reproduce_args=(--config "$repo/configs/cifar100/reproduce-resnet56-resnet20.yaml" --train 200 --test 100
        --epochs 1 --gpus-per-trial 0)
    limits=(120 180 60 240 480)  # generous: a loaded 2-core machine took over 150 s for packing, 275 s for reproduce
else
    device=(--device cuda)
    step_args=(--batches 40 --repeats 5)
    kd_args=(--steps 100 --repeats 5)
    pipeline_args=(--images 10000 --repeats 5 --workers 4)
    packing_args=(--trials 8 --epochs 4 --steps 150 --shares 1,0.5,0.25 --cpus-per-trial 2)
    reproduce_args=(--train 5000 --test 1000 --epochs 2 --gpus-per-trial 0.25)
    limits=(90 180 45 150 180)  # seconds per step: 645 in all
fi

# run_step NAME LIMIT_S COMMAND...: run it with a time limit (unless --only leaves it out), record status and seconds.
run_step() {
    local name=$1 limit=$2 status=ok code=0 begun=$SECONDS
    shift 2
    if [[ -n "$only" && ",$only," != *",$name,"* ]]; then
        return 0
    fi
    echo
    echo "== $name (limit ${limit} s): $*"
    if timeout --kill-after=15 "$limit" "$@"; then
        status=ok
    else
        code=$?
        status="failed (exit $code)"
        if ((code == 124 || code == 137)); then
            status="failed (exit $code, time limit)"
        fi
        failed=1
    fi
    printf '%s\t%s\t%s\n' "$name" "$status" "$((SECONDS - begun))" >>"$parts/steps.tsv"
    echo "== $name: $status in $((SECONDS - begun)) s"
}

run_step step_overhead "${limits[0]}" "$python" "$here/step_overhead.py" "${device[@]}" "${step_args[@]}" \
    --sync-check --json "$parts/step_overhead.json"
run_step kd_throughput "${limits[1]}" "$python" "$here/kd_throughput.py" "${device[@]}" "${kd_args[@]}" \
    --json "$parts/kd_throughput.json"
run_step data_pipeline "${limits[2]}" "$python" "$here/data_pipeline.py" "${device[@]}" "${pipeline_args[@]}" \
    --json "$parts/data_pipeline.json"
run_step packing "${limits[3]}" "$python" "$here/packing.py" "${packing_args[@]}" --json "$parts/packing.json"
run_step reproduce "${limits[4]}" "$python" "$here/reproduce_check.py" "${reproduce_args[@]}" \
    --json "$parts/reproduce.json"

shopt -s nullglob
jsons=("$parts"/*.json)
"$python" "$here/gpu_results.py" "$out" "${jsons[@]}" --mode "$mode" --steps "$parts/steps.tsv" \
    --nvidia-smi "$parts/nvidia-smi.csv" --total-s "$((SECONDS - started))"
echo "== benchmarks/gpu.sh done in $((SECONDS - started)) s"
exit "$failed"
