// SPDX-License-Identifier: GPL-3.0-or-later
#include "ThrowawayPostgres.h"

#include <libpq-fe.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <stdexcept>

namespace spinemet
{
  namespace
  {
    std::string findBinaries()
    {
      if (const char* configured = std::getenv("SPINEMET_POSTGRES_BIN"))
      {
        return configured;
      }
      std::string found;
      std::error_code error;
      for (const auto& version : std::filesystem::directory_iterator("/usr/lib/postgresql", error))
      {
        std::filesystem::path bin = version.path() / "bin";
        if (std::filesystem::exists(bin / "initdb") && (found.empty() || bin.string() > found)) found = bin.string();
      }
      if (found.empty())
      {
        throw std::runtime_error("no PostgreSQL server binaries (initdb) in /usr/lib/postgresql/*/bin: install "
                                 "Debian's postgresql package (scripts/install-deps.sh) or set SPINEMET_POSTGRES_BIN");
      }
      return found;
    }

    void execute(PGconn* db, const std::string& sql)
    {
      PGresult* result = PQexec(db, sql.c_str());
      const bool ok = PQresultStatus(result) == PGRES_COMMAND_OK;
      PQclear(result);
      if (!ok) throw std::runtime_error("PostgreSQL refused \"" + sql + "\": " + PQerrorMessage(db));
    }
  }

  ThrowawayPostgres& ThrowawayPostgres::shared()
  {
    static ThrowawayPostgres server;
    return server;
  }

  ThrowawayPostgres::ThrowawayPostgres() :
    binaries_(findBinaries()), asNobody_(::geteuid() == 0)
  {
    std::string pattern = (std::filesystem::temp_directory_path() / "spinemet-postgres-XXXXXX").string();
    if (::mkdtemp(pattern.data()) == nullptr)
    {
      throw std::runtime_error("cannot create a temporary folder for PostgreSQL");
    }
    folder_ = pattern;
    if (asNobody_ && std::system(("chown nobody:nogroup " + folder_).c_str()) != 0)
    {
      throw std::runtime_error("cannot hand " + folder_ + " to the user nobody");
    }
    // Durability settings off: the server lives as long as the tests and holds nothing of value.
    run("'" + binaries_ + "/initdb' -D '" + folder_ + "/data' -U spinemet --auth=trust --no-sync -E UTF8 --locale=C");
    run("'" + binaries_ + "/pg_ctl' -D '" + folder_ + "/data' -l '" + folder_ + "/server.log' -w -t 60 -o \"-k '" +
        folder_ + "' -c listen_addresses='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off\" start");
    started_ = true;
  }

  ThrowawayPostgres::~ThrowawayPostgres()
  {
    if (started_)
    {
      try
      {
        run("'" + binaries_ + "/pg_ctl' -D '" + folder_ + "/data' -m immediate -w stop");
      }
      catch (const std::exception&)
      {
      }
    }
    std::error_code ignored;
    std::filesystem::remove_all(folder_, ignored);
  }

  std::string ThrowawayPostgres::run(const std::string& command) const
  {
    std::string full = (asNobody_ ? "setpriv --reuid=nobody --regid=nogroup --clear-groups -- " : "") + command +
                       " > '" + folder_ + "/command.log' 2>&1";
    if (std::system(full.c_str()) != 0)
    {
      throw std::runtime_error("PostgreSQL for the tests: \"" + command + "\" failed (see " + folder_ +
                               "/command.log and server.log)");
    }
    return full;
  }

  std::string ThrowawayPostgres::createDatabase()
  {
    const std::string base = "host='" + folder_ + "' port=5432 user=spinemet";
    PGconn* db = PQconnectdb((base + " dbname=postgres").c_str());
    if (PQstatus(db) != CONNECTION_OK)
    {
      std::string reason = PQerrorMessage(db);
      PQfinish(db);
      throw std::runtime_error("cannot connect to the test PostgreSQL in " + folder_ + ": " + reason);
    }
    const std::string name = "queue_" + std::to_string(++databases_);
    try
    {
      execute(db, "CREATE DATABASE " + name);
    }
    catch (...)
    {
      PQfinish(db);
      throw;
    }
    PQfinish(db);
    return base + " dbname=" + name;
  }
}
