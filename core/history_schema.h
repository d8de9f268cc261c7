/*
 * The store's schema: applies schema.sql to a new database, migrates one of an older
 * schema_version step by step, and refuses one of a newer version, or a file that is not a
 * database, is corrupt or cannot be written, each with a message naming the file and the reason.
 */
#ifndef PL_HISTORY_SCHEMA_H
#define PL_HISTORY_SCHEMA_H

#include <sqlite3.h>

/* The schema version this build writes (meta.schema_version). */
#define PL_SCHEMA_VERSION 2

/* Brings the database at db (opened from path) to PL_SCHEMA_VERSION. Returns 0, or -1 after
 * logging why. */
int pl_history_schema(sqlite3 *db, const char *path);

#endif
