#!/usr/bin/env bash
# Every GPU figure at once (issue 15), written as JSON: run on a machine with a CUDA GPU,
# from the repository root, with the data where DIGITREC_DATA (or ../shared/data) says.
#   bash bench/gpu.sh [build/gpu.json] [extra options for bench/gpu.py]
# It takes about 8 minutes on an H200; each section is written as soon as it is done.
set -euo pipefail
out="${1:-build/gpu.json}"
shift || true
mkdir -p "$(dirname "$out")"
data="${DIGITREC_DATA:-}"
if [ -z "$data" ] && [ -d ../shared/data ]; then data=../shared/data; fi
python bench/gpu.py --json "$out" ${data:+--data-dir "$data"} "$@"
echo "written: $out"
