// Forwarders for the libpq functions the project calls; see include/CLibPQLoader.h for why.
// Thread-safe: the library is opened under pthread_once, and each function's address is
// published with an atomic store (two threads racing store the same value).
#include "CLibPQLoader.h"
#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <postgresql/libpq-fe.h>

static void *library;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void openLibrary(void) {
    library = dlopen("libpq.so.5", RTLD_NOW | RTLD_LOCAL);
    if (!library) fprintf(stderr, "broker: cannot load libpq.so.5: %s\n", dlerror());
}

int CLibPQLoader_isLoaded(void) { return __atomic_load_n(&library, __ATOMIC_ACQUIRE) != NULL; }

// Returns NULL only when the library is missing (callers that can report it check).
static void *lookup(const char *name, int required) {
    pthread_once(&once, openLibrary);
    void *p = library ? dlsym(library, name) : NULL;
    if (!p && required) {
        // Only reachable with a PGconn or PGresult in hand, which needs the library: a bug.
        fprintf(stderr, "broker: libpq.so.5 lacks %s\n", name);
        abort();
    }
    return p;
}

#define RESOLVE(name, type, required) \
    static type fn; \
    type f = __atomic_load_n(&fn, __ATOMIC_ACQUIRE); \
    if (!f) { f = (type)lookup(#name, required); __atomic_store_n(&fn, f, __ATOMIC_RELEASE); }

#define FORWARD(ret, name, params, args) \
    ret name params { typedef ret (*fn_t) params; RESOLVE(name, fn_t, 1) return f args; }
#define FORWARD_VOID(name, params, args) \
    void name params { typedef void (*fn_t) params; RESOLVE(name, fn_t, 1) f args; }

// Connecting: a missing library reads as a failed connect (NULL), not a crash.
PGconn *PQconnectStart(const char *conninfo) {
    typedef PGconn *(*fn_t)(const char *);
    RESOLVE(PQconnectStart, fn_t, 0)
    return f ? f(conninfo) : NULL;
}
PGconn *PQconnectStartParams(const char *const *keywords, const char *const *values, int expand_dbname) {
    typedef PGconn *(*fn_t)(const char *const *, const char *const *, int);
    RESOLVE(PQconnectStartParams, fn_t, 0)
    return f ? f(keywords, values, expand_dbname) : NULL;
}

FORWARD(PostgresPollingStatusType, PQconnectPoll, (PGconn *conn), (conn))
FORWARD(ConnStatusType, PQstatus, (const PGconn *conn), (conn))
FORWARD_VOID(PQfinish, (PGconn *conn), (conn))
FORWARD(int, PQsocket, (const PGconn *conn), (conn))
FORWARD(char *, PQerrorMessage, (const PGconn *conn), (conn))
FORWARD(PQnoticeReceiver, PQsetNoticeReceiver, (PGconn *conn, PQnoticeReceiver proc, void *arg), (conn, proc, arg))
FORWARD(int, PQsetnonblocking, (PGconn *conn, int arg), (conn, arg))
FORWARD(int, PQflush, (PGconn *conn), (conn))
FORWARD(int, PQconsumeInput, (PGconn *conn), (conn))
FORWARD(int, PQisBusy, (PGconn *conn), (conn))
FORWARD(int, PQsendQueryParams,
        (PGconn *conn, const char *command, int nParams, const Oid *paramTypes, const char *const *paramValues,
         const int *paramLengths, const int *paramFormats, int resultFormat),
        (conn, command, nParams, paramTypes, paramValues, paramLengths, paramFormats, resultFormat))
FORWARD(int, PQsendPrepare,
        (PGconn *conn, const char *stmtName, const char *query, int nParams, const Oid *paramTypes),
        (conn, stmtName, query, nParams, paramTypes))
FORWARD(int, PQsendQueryPrepared,
        (PGconn *conn, const char *stmtName, int nParams, const char *const *paramValues, const int *paramLengths,
         const int *paramFormats, int resultFormat),
        (conn, stmtName, nParams, paramValues, paramLengths, paramFormats, resultFormat))
FORWARD(PGresult *, PQgetResult, (PGconn *conn), (conn))
FORWARD(int, PQenterPipelineMode, (PGconn *conn), (conn))
FORWARD(int, PQpipelineSync, (PGconn *conn), (conn))
FORWARD(ExecStatusType, PQresultStatus, (const PGresult *res), (res))
FORWARD(char *, PQresultErrorMessage, (const PGresult *res), (res))
FORWARD(char *, PQresultErrorField, (const PGresult *res, int fieldcode), (res, fieldcode))
FORWARD(int, PQntuples, (const PGresult *res), (res))
FORWARD(int, PQnfields, (const PGresult *res), (res))
FORWARD(char *, PQfname, (const PGresult *res, int field_num), (res, field_num))
FORWARD(char *, PQgetvalue, (const PGresult *res, int tup_num, int field_num), (res, tup_num, field_num))
FORWARD(int, PQgetisnull, (const PGresult *res, int tup_num, int field_num), (res, tup_num, field_num))
FORWARD(char *, PQcmdStatus, (PGresult *res), (res))
FORWARD(char *, PQcmdTuples, (PGresult *res), (res))
FORWARD_VOID(PQclear, (PGresult *res), (res))
