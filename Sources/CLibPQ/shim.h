// libpq declarations only: the library is not linked but loaded on first use by CLibPQLoader
// (Sources/CLibPQLoader/include/CLibPQLoader.h says why). Debian's libpq-dev puts the header
// under /usr/include/postgresql.
#include <postgresql/libpq-fe.h>
