// A kernel tracer for machines without nsys (issue 17, device item 4): loaded into any CUDA program by the
// driver through CUDA_INJECTION64_PATH, it records every kernel's start, duration, grid, block and demangled
// name with CUPTI's activity API and writes them as the CSV that `nsys stats --report cuda_gpu_trace` prints
// (the columns benches/gpu/kernel_times.py reads), to the file GLINT_KERNEL_TRACE names.
//
// Build: benches/gpu/build-tracer.sh (build-cuda.sh runs it) puts it and its CUPTI library into .gpu-carry/cupti/,
// where device-run.sh looks for it; by hand:
//   g++ -O2 -shared -fPIC -I CUDA_INCLUDE -I CUPTI_INCLUDE cupti_trace.cpp -o libglint_cupti_trace.so
//       -L CUPTI_LIB -l:libcupti.so.13
// Use:
//   CUDA_INJECTION64_PATH=$PWD/libglint_cupti_trace.so GLINT_KERNEL_TRACE=trace.csv glint dev speed ...
//
// Records are written as CUPTI hands over each full buffer and at exit, so a run cut short keeps what it had
// flushed. Kernels run concurrently are timed as CUPTI sees them (CONCURRENT_KERNEL), as nsys does.
#include <cupti.h>
#include <cxxabi.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>

namespace {

constexpr size_t kBufferBytes = 8 << 20;
constexpr size_t kAlign = 8;

std::mutex out_lock;
FILE *out = nullptr;

std::string demangle(const char *name) {
    if (name == nullptr) return "(unnamed)";
    int status = 0;
    char *plain = abi::__cxa_demangle(name, nullptr, nullptr, &status);
    std::string result = (status == 0 && plain != nullptr) ? plain : name;
    std::free(plain);
    return result;
}

// CSV field: quoted, inner quotes doubled (demangled names hold commas).
std::string quoted(const std::string &text) {
    std::string result = "\"";
    for (char c : text) {
        if (c == '"') result += '"';
        result += c;
    }
    return result + "\"";
}

void CUPTIAPI buffer_requested(uint8_t **buffer, size_t *size, size_t *max_records) {
    void *raw = nullptr;
    if (posix_memalign(&raw, kAlign, kBufferBytes) != 0) raw = nullptr;
    *buffer = static_cast<uint8_t *>(raw);
    *size = raw ? kBufferBytes : 0;
    *max_records = 0;
}

void CUPTIAPI buffer_completed(CUcontext, uint32_t, uint8_t *buffer, size_t, size_t valid) {
    CUpti_Activity *record = nullptr;
    std::lock_guard<std::mutex> guard(out_lock);
    while (out && cuptiActivityGetNextRecord(buffer, valid, &record) == CUPTI_SUCCESS) {
        if (record->kind != CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL && record->kind != CUPTI_ACTIVITY_KIND_KERNEL)
            continue;
        auto *kernel = reinterpret_cast<CUpti_ActivityKernel10 *>(record);
        std::fprintf(out, "%llu,%llu,%d,%d,%d,%d,%d,%d,%s\n", (unsigned long long)kernel->start,
                     (unsigned long long)(kernel->end - kernel->start), kernel->gridX, kernel->gridY,
                     kernel->gridZ, kernel->blockX, kernel->blockY, kernel->blockZ,
                     quoted(demangle(kernel->name)).c_str());
    }
    if (out) std::fflush(out);
    std::free(buffer);
}

void flush_at_exit() {
    cuptiActivityFlushAll(CUPTI_ACTIVITY_FLAG_FLUSH_FORCED);
    std::lock_guard<std::mutex> guard(out_lock);
    if (out) {
        std::fclose(out);
        out = nullptr;
    }
}

}  // namespace

// Called by the CUDA driver when it loads this library (CUDA_INJECTION64_PATH); nonzero means success.
extern "C" int InitializeInjection(void) {
    const char *path = std::getenv("GLINT_KERNEL_TRACE");
    if (path == nullptr || *path == '\0') {
        std::fprintf(stderr, "cupti_trace: set GLINT_KERNEL_TRACE to the CSV file to write\n");
        return 0;
    }
    out = std::fopen(path, "w");
    if (out == nullptr) {
        std::fprintf(stderr, "cupti_trace: cannot write %s\n", path);
        return 0;
    }
    std::fprintf(out, "Start (ns),Duration (ns),GrdX,GrdY,GrdZ,BlkX,BlkY,BlkZ,Name\n");
    CUptiResult result = cuptiActivityRegisterCallbacks(buffer_requested, buffer_completed);
    if (result == CUPTI_SUCCESS) result = cuptiActivityEnable(CUPTI_ACTIVITY_KIND_CONCURRENT_KERNEL);
    if (result != CUPTI_SUCCESS) {
        const char *error = nullptr;
        cuptiGetResultString(result, &error);
        std::fprintf(stderr, "cupti_trace: CUPTI refused the kernel activity (%s)\n", error ? error : "?");
        return 0;
    }
    std::atexit(flush_at_exit);
    return 1;
}
