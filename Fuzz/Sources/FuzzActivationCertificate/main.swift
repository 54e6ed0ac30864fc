import CLibFuzzer
import FuzzSupport

@_cdecl("LLVMFuzzerTestOneInput")
func testOneInput(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    Fuzzer.testOne(.activationCertificate, data, size)
}

Fuzzer.main(.activationCertificate, testOneInput)
