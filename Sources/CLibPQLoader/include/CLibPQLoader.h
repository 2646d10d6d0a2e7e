// CLibPQLoader: libpq loaded on first use instead of at process start.
//
// Why: linking libpq.so.5 makes every role map it and its dependencies (libldap, gnutls,
// p11-kit, nettle, krb5, sasl, ...), whose constructors and relocations kept ~3.4 MB resident in
// a fanout node that never talks to PostgreSQL (docs/profiling.md, "Memory"). loader.c defines
// each libpq function the project calls (same name and signature as libpq-fe.h); the first
// call dlopens libpq.so.5 and each function looks its real address up once. CLibPQ supplies
// the declarations and no longer links libpq. Calling a libpq function not forwarded in
// loader.c fails at link time: add a FORWARD line there.
#ifndef CLIBPQLOADER_H
#define CLIBPQLOADER_H

/// 1 once libpq.so.5 has been loaded (a libpq function was called), else 0.
int CLibPQLoader_isLoaded(void);

#endif
