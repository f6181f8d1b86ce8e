# Every third-party library attn links, found from Debian's packages (see docs/DESIGN.md).
find_package(OpenMP REQUIRED)
find_package(dnnl CONFIG REQUIRED)        # GEMM (libdnnl-dev)
find_package(hwy CONFIG REQUIRED)         # SIMD with run-time dispatch (libhwy-dev)
find_package(nlohmann_json 3 REQUIRED)    # safetensors headers (nlohmann-json3-dev)
find_package(PkgConfig REQUIRED)
pkg_check_modules(OPENBLAS REQUIRED IMPORTED_TARGET openblas)  # float64 GEMM (libopenblas-dev)
set(ATTN_BLAS_LIBRARIES PkgConfig::OPENBLAS)
find_package(CLI11 CONFIG REQUIRED)       # command-line parsing (libcli11-dev)
find_package(tomlplusplus CONFIG REQUIRED)  # training configs (libtomlplusplus-dev)
# SentencePiece and SWORD ship pkg-config files only.
pkg_check_modules(SENTENCEPIECE REQUIRED IMPORTED_TARGET sentencepiece)  # subword tokenizer (libsentencepiece-dev)
pkg_check_modules(SWORD REQUIRED IMPORTED_TARGET sword)  # Bible modules (libsword-dev)
set(ATTN_TEXT_LIBRARIES PkgConfig::SENTENCEPIECE PkgConfig::SWORD tomlplusplus::tomlplusplus)
