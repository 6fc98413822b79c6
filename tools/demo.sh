#!/bin/sh
# `make demo`: the SST-2 sentiment model attx trained itself (data/sst2-bert.safetensors)
# explains a few sentences written for the demo (data/demo-sentences.txt): the prediction,
# then each method's token scores, then one explanation step by step (--trace).
# usage: tools/demo.sh ATTX MODEL SENTENCES
set -e
attx=$1 model=$2 sentences=$3
methods=grad-att-max-mutual,grad-att-cls,att-cls,grad-x-input,shap
echo "== the model"
"$attx" info "$model"
while IFS= read -r line; do
    [ -n "$line" ] || continue
    echo
    echo "== attx explain MODEL \"$line\""
    "$attx" explain "$model" "$line" --method "$methods"
done < "$sentences"
echo
echo "== one explanation step by step: attx explain MODEL \"not bad at all .\" --trace"
"$attx" explain "$model" "not bad at all ." --method grad-att-max-mutual --trace
echo
echo "(the same as a page: $attx explain $model \"...\" --html page.html)"
