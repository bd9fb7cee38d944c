# SPDX-License-Identifier: GPL-3.0-or-later
# Sourced by train_real.sh, operating_point_real.sh and compare.sh (needs $root): the folders of
# the real-anatomy data that train_real.sh makes (docs/training.md, "Model 0.4.0"), split as
# training/hybrid_split.json says.
#   real_val   the held-out vertebrae of thorax-4dct (patient A): chooses the operating point
#   real_test  the held-out vertebrae of chest-lidc-0314 (patient B) and all of abdomen-crlm-1006
#              (patient C, never trained on): the real-anatomy rows
#   real_val_balanced  more studies on real_val's vertebrae, the lesion kinds balanced
#              (make_hybrid_validation.sh, into data-real/hybrid-val): with real_val, chooses model
#              0.4.1's per-subtask operating point (operating_point_real.sh); never a training input
data_real=$root/training/data-real
hybrid=$data_real/hybrid/samples
real_folders() { ls -d "$@" 2>/dev/null || true; }
real_val=$(real_folders "$hybrid"/eval/thorax-4dct-*)
real_test=$(real_folders "$hybrid"/eval/chest-lidc-0314-* "$hybrid"/eval/abdomen-crlm-1006-*)
real_val_balanced=$(real_folders "$data_real"/hybrid-val/samples/eval/thorax-4dct-*)
