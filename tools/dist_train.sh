#!/usr/bin/env bash
# Data-parallel training with torchrun: tools/dist_train.sh CONFIG NUM_PROCESSES [train.py args]
# One process per GPU; on a machine without CUDA the processes train on the CPU (gloo).
# NNODES, NODE_RANK, MASTER_ADDR and PORT configure multi-machine runs.
set -euo pipefail
CONFIG=$1
NPROC=$2
python -m torch.distributed.run \
    --nnodes="${NNODES:-1}" --node_rank="${NODE_RANK:-0}" \
    --master_addr="${MASTER_ADDR:-127.0.0.1}" --master_port="${PORT:-29500}" \
    --nproc_per_node="$NPROC" \
    "$(dirname "$0")/train.py" "$CONFIG" --launcher pytorch "${@:3}"
