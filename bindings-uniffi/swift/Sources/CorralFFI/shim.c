// SwiftPM needs one source file in a C target; the declarations are in include/CorralFFI.h
// (generated) and the code is in libcorral_ffi.
