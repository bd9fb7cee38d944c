# SPDX-License-Identifier: GPL-3.0-or-later
from plugin_fixtures import tiny_model  # noqa: F401  (the session's random-weight model)
