#!/usr/bin/env bash
# genlab's two entry points for a fresh checkout; each sets itself up on first use.
#
#   ./dev.sh demo    train a short RBM on MNIST and write its figures to runs/demo/
#   ./dev.sh test    run the test suite, a process per core (extra arguments go to pytest;
#                    -n 0 runs it in this one process)
#
# Set-up: a virtual environment in .venv with genlab installed in editable mode.
# GENLAB_TORCH chooses the PyTorch requirement installed first (default: the
# tested torch==2.13.0; e.g. GENLAB_TORCH='torch>=2.4' to take what pip offers).
set -euo pipefail
cd "$(dirname "$0")"
VENV=.venv

setup() {
    if [ ! -x "$VENV/bin/python" ]; then
        echo "setting up $VENV ..." >&2
        python3 -m venv "$VENV"
    fi
    if ! "$VENV/bin/python" -c "import genlab, torch, pytest, xdist, hypothesis, importlinter" 2>/dev/null; then
        "$VENV/bin/python" -m pip install -q --upgrade pip >&2
        "$VENV/bin/python" -m pip install -q "${GENLAB_TORCH:-torch==2.13.0}" >&2
        "$VENV/bin/python" -m pip install -q -e ".[test]" >&2
    fi
}

case "${1:-}" in
    demo)
        shift
        setup
        rm -rf runs/demo
        "$VENV/bin/genlab" train rbm --out runs/demo --epochs 15 "$@"
        "$VENV/bin/genlab" eval runs/demo --ais-runs 20 --ais-betas 2000 --samples 0 --quiet
        echo "figures: $(ls runs/demo/figures/*.png | tr '\n' ' ')"
        ;;
    test)
        shift
        setup
        # a worker per core, each test file on one worker (its module fixtures built once), one thread each
        exec "$VENV/bin/python" -m pytest -n auto --dist loadfile "$@"
        ;;
    *)
        sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
        exit 2
        ;;
esac
