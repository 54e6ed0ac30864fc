// A C target needs a source file; the function itself comes from libclang_rt.fuzzer (-sanitize=fuzzer).
#include "CLibFuzzer.h"
