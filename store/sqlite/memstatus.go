package sqlite

// SQLite counts every allocation it makes in a global total, under a
// global mutex, for sqlite3_memory_used() and its soft heap limit, neither
// of which postwatch reads. In a 1M import that was 4–5 % of the writer
// thread (the mutex and malloc_usable_size at every malloc and free;
// docs/performance.md), and SQLite's own list of options for speed turns it
// off (SQLITE_DEFAULT_MEMSTATUS=0). The driver compiles SQLite with its own
// flags, so it is turned off at run time, which sqlite3_config allows only
// before the library initializes with the first connection.

/*
int sqlite3_config(int, ...);

// SQLITE_CONFIG_MEMSTATUS is 9 in sqlite3.h.
static int memstatus_off(void) { return sqlite3_config(9, 0); }
*/
import "C"

// disableMemStatus turns SQLite's allocation statistics off, and returns
// SQLite's result code: SQLITE_MISUSE (21), changing nothing, once a
// connection has initialized the library.
func disableMemStatus() int { return int(C.memstatus_off()) }
