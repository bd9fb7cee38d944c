// SPDX-License-Identifier: GPL-3.0-or-later
// The pieces of ground_truth.json (schema "spinemet-phantom-truth/1", docs/phantom.md) that every
// writer of the schema shares: spinemet-phantom (PhantomJson.cpp) and spinemet-hybrid, whose
// truth spinemet-prep reads the same way. Each writer adds its own fields around them.
#pragma once

#include "phantom/Phantom.h"

#include <json/value.h>

namespace spinemet
{
  namespace truth_json
  {
    // Millimetres (and HU) to three decimals: enough, and stable text.
    Json::Value millimetres(double value);
    Json::Value vector3(const Vector3& v);
    // kind, region, centre_mm, radii_mm, hu
    Json::Value lesion(const PhantomLesion& lesion);
    // index, level, extent, labels, body centre and size, lesions, sop_instance_uids
    Json::Value vertebra(const PhantomVertebra& vertebra);
    // file (a name, or null), sop_instance_uid, z_mm, instance_number, vertebra, labels, the
    // per-slice visibility flags, body_centre_pixel
    Json::Value slice(const PhantomSlice& slice, const Json::Value& file);
  }
}
