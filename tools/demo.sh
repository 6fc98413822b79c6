#!/bin/sh
# `make demo`: a sentiment model explains its predictions. For each sentence of SENTENCES
# ("label<TAB>sentence" lines): the prediction, then per method its three most important tokens
# (scores divided by the method's largest, so methods of different scales read alike); then one
# explanation step by step (--trace); then a semantic search with the sentence-embedding model
# EMBEDDER over the lines of LINES.
# usage: tools/demo.sh ATTX MODEL SENTENCES EMBEDDER LINES
set -e
attx=$1 model=$2 sentences=$3 embedder=$4 lines=$5
methods=grad-att-max-mutual,att-cls,shap
echo "== $model: $("$attx" info "$model" --json | sed -n 's/.*"class":"\([^"]*\)".*"layers":\([0-9]*\),"hidden_size":\([0-9]*\).*/\1, \2 layers, hidden \3/p')"
echo "   each line: a method and its 3 most important tokens (+: for the prediction, -: against)"
tab=$(printf '\t')
while IFS="$tab" read -r label line; do
    [ -n "$line" ] || continue
    echo
    out=$("$attx" explain "$model" "$line" --method "$methods" --brief < /dev/null)
    printf '%s\n' "$out"
    predicted=${out%% *}
    [ "$predicted" = "$label" ] || echo "  (a mistake: this sentence is $label)"
done < "$sentences"
echo
echo "== step by step: $attx explain MODEL \"not bad .\" --method grad-att-max-mutual --trace"
"$attx" explain "$model" "not bad ." --method grad-att-max-mutual --trace --brief
echo
echo "== semantic search: $attx similar $embedder QUERY @$lines --top 2"
"$attx" similar "$embedder" "I can't sign in to my account" "@$lines" --top 2
echo
echo "(more: $attx explain MODEL \"...\" --html page.html; $attx --help)"
