// OpenLDAP's client library (Debian: libldap-dev), without its deprecated API.
#define LDAP_DEPRECATED 0
#include <ldap.h>
#include <lber.h>
