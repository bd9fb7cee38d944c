# SPDX-License-Identifier: GPL-3.0-or-later
# Sourced by train_real.sh and operating_point_real.sh (after real_data.sh; needs $root, $build,
# $data, $hybrid, $real_val, $real_test and py()): the steps after evaluation that turn a checkpoint
# into a servable model with its reports, docs/training.md ("Model 0.4.0"):
#   export, the fixed check of the exported model, export again with that check, the gate fitted
#   on the training data and real_val (never real_test), the gate's scores of real_test, the
#   served real CTs (real_ct_check), the model card.
# package_real_model CHECKPOINT EVALUATION RUN MODEL REAL_CT_CHECK CARD NOTE_FILE [EXPORT_OPTION...]
#   RUN gets model.pt (the first export), check.json, gate.json, gate-real-test.json; MODEL is the
#   model to serve; NOTE_FILE ("" for none) is the card's status paragraph; EXPORT_OPTIONs go to
#   both exports (e.g. --version 0.4.1).
# shellcheck disable=SC2154  # build, data, hybrid, real_val, real_test: the caller's (above)
package_real_model() {
  checkpoint=$1 evaluation=$2 run_dir=$3 model_out=$4 real_ct_check=$5 card=$6 note_file=$7
  shift 7
  py spinemet_train.export --checkpoint "$checkpoint" --evaluation "$evaluation" "$@" --out "$run_dir/model.pt"
  py spinemet_train.fixed_check --model "$run_dir/model.pt" --phantom "$build/tools/phantom/spinemet-phantom" \
     --prep "$build/tools/prep/spinemet-prep" --out "$run_dir/check.json"
  py spinemet_train.export --checkpoint "$checkpoint" --evaluation "$evaluation" \
     --fixed-check "$run_dir/check.json" "$@" --out "$model_out"
  # The gate learns real backgrounds as in distribution only where training saw them; the real test
  # studies are scored against it afterwards, never used to fit it.
  # shellcheck disable=SC2086  # the study folder lists are meant to split
  py spinemet_train.out_of_distribution fit --model "$model_out" --train "$data/phantom/train" "$hybrid/train" \
     --val "$data/phantom/val" $real_val --test "$data/phantom/test" \
     --slice-thickness-mm 1.0 4.0 --pixel-spacing-mm 0.5 1.0 --out "$model_out" --report "$run_dir/gate.json"
  # shellcheck disable=SC2086
  py spinemet_train.out_of_distribution score --model "$model_out" --data $real_test --json "$run_dir/gate-real-test.json"
  py spinemet_train.real_ct_check --spinemet "$build/tools/spinemet/spinemet" --model "$model_out" \
     --real-ct "$root/../shared/testdata/real-ct" --split "$root/training/hybrid_split.json" --out "$real_ct_check"
  if [ -n "$note_file" ]; then
    py spinemet_train.model_card --model "$model_out" --real-ct-check "$real_ct_check" --note-file "$note_file" --out "$card"
  else
    py spinemet_train.model_card --model "$model_out" --real-ct-check "$real_ct_check" --out "$card"
  fi
}
