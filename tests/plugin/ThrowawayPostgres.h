// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once

#include <string>

namespace spinemet
{
  // A PostgreSQL server of Debian's `postgresql` package for the tests of this process: initdb
  // into a temporary folder, listening on a Unix socket in that folder only, stopped and removed
  // when the process ends. PostgreSQL refuses to run as root, so as root it runs as `nobody`
  // (setpriv). SPINEMET_POSTGRES_BIN names the folder of initdb and pg_ctl when they are not in
  // /usr/lib/postgresql/<version>/bin.
  class ThrowawayPostgres
  {
  public:
    static ThrowawayPostgres& shared();    // started on first use; throws std::runtime_error saying why not

    // A new, empty database; returns its libpq connection string.
    std::string createDatabase();

    ~ThrowawayPostgres();

  private:
    ThrowawayPostgres();

    std::string run(const std::string& command) const;   // prefixed with setpriv as root

    std::string binaries_;
    std::string folder_;
    bool asNobody_ = false;
    bool started_ = false;
    int databases_ = 0;
  };
}
