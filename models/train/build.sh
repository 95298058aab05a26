#!/bin/sh
# Rebuild the shipped demo models from nothing: corpus -> tokenizer -> training ->
# Hugging Face folder (models/train/work/*-hf) -> GGUF (the project's own converter)
# -> expected outputs for the tests (tests/fixtures/models/*.json).
#
#   models/train/build.sh                 # all five
#   models/train/build.sh gpt2 t5         # some of them
#   models/train/build.sh chat            # the chat model (then eval_chat.mjs: held-out accuracy)
#
# Needs Debian's python3-torch, python3-numpy, python3-sentencepiece, python3-regex
# (training only; the library never needs Python) and Node 20 for the converter.
# libopenblas0 makes torch ~15x faster than the reference BLAS on these machines.
set -eu
cd "$(dirname "$0")/../.."
PY=/usr/bin/python3
export OMP_NUM_THREADS=1

name() { case $1 in gpt2) echo gpt2-stories;; llama) echo llama-stories;; t5) echo t5-tasks;; bert) echo bert-facts;; chat) echo gpt2-chat;; esac; }
ftype() { echo F16; }  # exact float32 math on the rounded weights: tests compare logits with PyTorch

for m in ${@:-gpt2 llama t5 bert chat}; do
  case $m in
    gpt2|llama) $PY models/train/train_decoder.py "$m" ;;
    t5) $PY models/train/train_t5.py ;;
    bert) $PY models/train/train_bert.py ;;
    chat) $PY models/train/train_chat.py ;;
    *) echo "unknown model $m (gpt2, llama, t5, bert, chat)" >&2; exit 2 ;;
  esac
  n=$(name "$m"); t=$(ftype "$m")
  out="models/$n-$t.gguf"
  node js/cli.js convert "models/train/work/$n-hf" -o "$out" --type "$t" --name "$n"
  if [ "$m" = chat ]; then
    $PY models/train/expected_chat.py
    node models/train/eval_chat.mjs "$out"
  else
    $PY models/train/expected.py "$m" "$t"
  fi
done
