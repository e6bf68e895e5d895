{
  "variables": {
    "addon_cflags": ["-std=c++17", "-fexceptions", "-frtti", "-fopenmp", "-O3", "-fno-math-errno", "-Wall", "-Wno-unused-parameter"]
  },
  "target_defaults": {
    "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
    "defines": ["NAPI_VERSION=8", "NAPI_CPP_EXCEPTIONS", "NODE_ADDON_API_DISABLE_DEPRECATED"],
    "cflags!": ["-fno-exceptions"],
    "cflags_cc!": ["-fno-exceptions", "-fno-rtti", "-std=gnu++17"]
  },
  "targets": [
    {
      "target_name": "loops_avx512",
      "type": "static_library",
      "sources": ["addon/simd/loops-impl.cc"],
      "defines": ["DLEXP_ISA=avx512"],
      "cflags_cc": ["<@(addon_cflags)", "-fPIC", "-mavx512f", "-mavx512bw", "-mavx512dq", "-mavx512vl", "-mavx2", "-mfma", "-mprefer-vector-width=512"]
    },
    {
      "target_name": "loops_avx2",
      "type": "static_library",
      "sources": ["addon/simd/loops-impl.cc"],
      "defines": ["DLEXP_ISA=avx2"],
      "cflags_cc": ["<@(addon_cflags)", "-fPIC", "-mavx2", "-mfma"]
    },
    {
      "target_name": "loops_baseline",
      "type": "static_library",
      "sources": ["addon/simd/loops-impl.cc"],
      "defines": ["DLEXP_ISA=baseline"],
      "cflags_cc": ["<@(addon_cflags)", "-fPIC"]
    },
    {
      "target_name": "dlexp_native",
      "dependencies": ["loops_avx512", "loops_avx2", "loops_baseline"],
      "sources": [
        "addon/addon.cc",
        "addon/common.cc",
        "addon/dnnl-context.cc",
        "addon/conv.cc",
        "addon/matmul.cc",
        "addon/pool.cc",
        "addon/elementwise.cc",
        "addon/fusion.cc",
        "addon/copy.cc",
        "addon/lstm.cc",
        "addon/simd/dispatch.cc"
      ],
      "cflags_cc": ["<@(addon_cflags)"],
      "ldflags": ["-fopenmp"],
      "libraries": ["-ldnnl", "-lopenblas"]
    }
  ]
}
