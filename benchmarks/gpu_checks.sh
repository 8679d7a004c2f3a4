#!/usr/bin/env bash
# Every GPU check in one time-boxed run: the CUDA tests, the reference runs against the
# GPU targets, the DCGAN's --bf16 against float32 on sample quality, and the
# benchmark table.
#
#     GENLAB_DATA_DIR=... benchmarks/gpu_checks.sh OUT_DIR [SECONDS]
#
# Each part writes OUT_DIR/<part>.log and prints its last lines; the parts share a
# deadline of SECONDS (default 540), in order of importance. PARTS (default: all of
# them) picks some: tests targets_rbm targets_vae bench_rbm targets_dcgan dcgan_bf16
# bench_rest; TARGETS_MATCH passes --match to the target runs; DCGAN_FIT_ONLY=1 times
# the DCGAN's training epochs only (not also its whole genlab train run).
set -u
out=${1:?usage: gpu_checks.sh OUT_DIR [SECONDS]}
deadline=$((SECONDS + ${2:-540}))
mkdir -p "$out"
export PYTHONUNBUFFERED=1 PYTHONPATH="$PWD/src${PYTHONPATH:+:$PYTHONPATH}"
py=${PYTHON:-python3}

part() {  # part NAME MAX_SECONDS COMMAND...: run COMMAND for at most MAX_SECONDS (and not past the deadline)
    local name=$1 limit=$2 start=$SECONDS
    shift 2
    [[ " ${PARTS:-env tests targets_rbm targets_vae bench_rbm targets_dcgan dcgan_bf16 bench_rest} " == *" $name "* ]] || return 0
    local left=$((deadline - SECONDS))
    ((left < limit)) && limit=$left
    if ((limit < 10)); then echo "== $name: skipped, out of time"; return; fi
    timeout "$limit" "$@" >"$out/$name.log" 2>&1
    echo "== $name: exit $? after $((SECONDS - start)) s (limit $limit s)"
    tail -n "${TAIL:-20}" "$out/$name.log"
}

PARTS="env ${PARTS:-}"; [ "$PARTS" = "env " ] && unset PARTS
part env 30 bash -c "nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.sm,clocks.max.sm --format=csv;
    $py -c 'import torch, triton, genlab.training.rbm; print(torch.__version__, triton.__version__, torch.cuda.get_device_name())'" ||
    exit 1
$py -c 'import genlab.training.rbm' || exit 1
part tests 120 $py -m pytest -q -p no:cacheprovider -x tests/accel tests/test_devices.py tests/training/test_dbn.py -k cuda
targets() { part targets_$1 200 $py benchmarks/targets.py --device cuda --only "$@" --match "${TARGETS_MATCH:-}"; }
targets rbm
targets vae
part bench_rbm 60 $py benchmarks/bench.py --device cuda --repeats 3 --only rbm,rate
targets dcgan ${DCGAN_FIT_ONLY:+--fit-only}
TAIL=40 part dcgan_bf16 90 bash -c "
    for seed in 0 1; do for mode in bf16 float32; do
        flag=; [ \$mode = bf16 ] && flag=--bf16
        $py -m genlab train dcgan --limit 4000 --epochs 2 --batch-size 16 --seed \$seed \$flag --device cuda --quiet \
            --out /tmp/dcgan-\$seed-\$mode >/dev/null || exit 1
        echo \"seed \$seed \$mode: train_time_s \$($py -c \"import json; print(json.load(open('/tmp/dcgan-\$seed-\$mode/config.json'))['train_time_s'])\")\"
        $py -m genlab eval /tmp/dcgan-\$seed-\$mode --samples 5000 --device cuda --quiet | grep -iE 'frechet|classifier'
    done; done"
part bench_rest 150 $py benchmarks/bench.py --device cuda --repeats 3 --only vae,dcgan --dcgan-images 5000
