// The backend registry: name -> factory, filled with the built-in backends on first use.
#include <map>
#include <mutex>
#include <stdexcept>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "kernels/backend/builtin_backends.hpp"
#include "kernels/backend/fused_moe.hpp"
#include "kernels/common/errors.hpp"
#if MXG_HAS_GPU_BACKEND
#include "kernels/backend/gpu_hook.hpp"
#endif

namespace mxg {
namespace {

// Built-ins are added by the constructor, so they are present before any caller sees the
// registry, exactly once, even with concurrent first calls (function-local static).
struct Registry {
  Registry() {
    add(host_backend_registration());
    add(external_backend_registration());
#if MXG_HAS_GPU_BACKEND
    for (auto& g : gpu_backend_registrations()) add(std::move(g));
#endif
  }

  std::mutex mutex;
  std::map<std::string, BackendRegistration, std::less<>> entries;

  void add(BackendRegistration r) {
    if (r.name.empty() || !r.factory) throw std::invalid_argument("register_backend: empty name or factory");
    std::lock_guard lock(mutex);
    if (entries.contains(r.name)) {
      throw std::invalid_argument(fmt::format("register_backend: backend '{}' is already registered", r.name));
    }
    auto name = r.name;
    entries.emplace(std::move(name), std::move(r));
  }
};

Registry& registry() {
  static Registry instance;
  return instance;
}

const BackendRegistration& find(Registry& r, std::string_view name) {
  auto it = r.entries.find(name);
  if (it == r.entries.end()) {
    std::vector<std::string> known;
    for (const auto& [n, _] : r.entries) known.push_back(n);
    throw InputError(fmt::format("--backend: unknown backend '{}' (registered: {})", name, fmt::join(known, ", ")));
  }
  return it->second;
}

}  // namespace

void register_backend(BackendRegistration registration) { registry().add(std::move(registration)); }

std::unique_ptr<FusedMoeBackend> make_backend(std::string_view name, const BackendOptions& options) {
  Registry& r = registry();
  BackendFactory factory;
  {
    std::lock_guard lock(r.mutex);
    factory = find(r, name).factory;
  }
  return factory(options);
}

std::vector<std::string> backend_names() {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  std::vector<std::string> names;
  for (const auto& [n, _] : r.entries) names.push_back(n);
  return names;
}

std::string backend_description(std::string_view name) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  return find(r, name).description;
}

Isolation backend_isolation(std::string_view name) {
  Registry& r = registry();
  std::lock_guard lock(r.mutex);
  return find(r, name).isolation;
}

}  // namespace mxg
