#!/bin/sh
# pp512 / tg128 of the synthetic TinyLlama-1.1B-shape model (random weights:
# speed only), F16 and GPTQ-layout int4 (RTN, groups of 128), on the CPU
# (QGML_GPU=0), with prompt products offloaded (the default in a CUDA build)
# and with every layer resident (-ngl 99). Needs a CUDA build (make cuda) and
# ../shared (the synthetic model tool); writes its files under $WORK.
#   scripts/bench_cuda.sh [build-cuda] [THREADS] [REPS]
# SYNTH_ARGS overrides the model shape (e.g. "--hidden 256 --intermediate 688
# --layers 2 --heads 4 --kv-heads 4 --vocab 32000" to check the script quickly).
set -eu
BUILD=${1:-build-cuda}
THREADS=${2:-$(nproc)}
REPS=${3:-3}
SHARED=${QGML_SHARED:-../shared}
WORK=${WORK:-$BUILD/bench-cuda}
SYNTH_ARGS=${SYNTH_ARGS:---preset tinyllama-1.1b}
QGML=$BUILD/bin/qgml
mkdir -p "$WORK"
if [ ! -f "$WORK/f16.gguf" ]; then
  # shellcheck disable=SC2086
  /usr/bin/python3 "$SHARED/tools/make_synthetic_llama.py" "$WORK/hf" $SYNTH_ARGS --dtype bf16 --shard-mb 2000
  cp "$SHARED/data/tokenizers/llama2-spm/tokenizer.model" "$WORK/hf/"  # TinyLlama's 32,000-piece vocabulary
  "$QGML" convert "$WORK/hf" -o "$WORK/f16.gguf" --outtype f16
fi
if [ ! -f "$WORK/int4.gguf" ]; then
  "$QGML" quantize -m "$WORK/f16.gguf" -o "$WORK/int4.gguf" --method rtn --bits 4 --group 128 -t "$THREADS"
fi
for model in f16 int4; do
  for mode in cpu prompt ngl99; do
    echo "== $model, $mode"
    case $mode in
      cpu) QGML_GPU=0 "$QGML" bench -m "$WORK/$model.gguf" -p 512 -n 128 -t "$THREADS" -r "$REPS" ;;
      prompt) "$QGML" bench -m "$WORK/$model.gguf" -p 512 -n 128 -t "$THREADS" -r "$REPS" ;;
      ngl99) "$QGML" bench -m "$WORK/$model.gguf" -p 512 -n 128 -t "$THREADS" -r "$REPS" -ngl 99 ;;
    esac
  done
done
