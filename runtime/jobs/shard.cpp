#include "runtime/jobs/shard.h"

#include <fmt/core.h>

#include <charconv>
#include <optional>

namespace sparq::runtime {
namespace {

std::optional<uint64_t> parse_count(std::string_view text) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return v;
}

Result<uint64_t> env_number(const std::function<const char*(const char*)>& getenv, const char* name,
                            const char* why) {
  const char* value = getenv(name);
  if (!value) return Error(fmt::format("{} is not set ({})", name, why), ErrorKind::invalid_argument);
  std::optional<uint64_t> v = parse_count(value);
  if (!v) return Error(fmt::format("{}='{}': expected a non-negative integer ({})", name, value, why), ErrorKind::invalid_argument);
  return *v;
}

}  // namespace

Result<Shard> parse_shard(const std::string& text, const std::string& source) {
  size_t slash = text.find('/');
  std::optional<uint64_t> index, count;
  if (slash != std::string::npos) {
    index = parse_count(std::string_view(text).substr(0, slash));
    count = parse_count(std::string_view(text).substr(slash + 1));
  }
  if (!index || !count || *count == 0 || *index >= *count) {
    return Error(fmt::format("{} '{}': expected I/N with 0 <= I < N (e.g. 0/4)", source, text),
                 ErrorKind::invalid_argument)
        .about("shard");
  }
  return Shard{*index, *count, source};
}

Result<Shard> shard_from_environment(const std::function<const char*(const char*)>& getenv) {
  auto check = [](Shard s, const char* index_name, const char* count_name) -> Result<Shard> {
    if (s.count == 0 || s.index >= s.count) {
      return Error(fmt::format("{}={} is not below {}={}: cannot choose a shard", index_name, s.index, count_name,
                               s.count),
                   ErrorKind::invalid_argument);
    }
    return s;
  };
  if (getenv("SLURM_ARRAY_TASK_ID")) {
    const char* why = "a Slurm array task's shard";
    Result<uint64_t> id = env_number(getenv, "SLURM_ARRAY_TASK_ID", why);
    if (!id) return id.error();
    Result<uint64_t> count = env_number(getenv, "SLURM_ARRAY_TASK_COUNT", why);
    if (!count) return count.error();
    uint64_t min = 0, step = 1;
    if (getenv("SLURM_ARRAY_TASK_MIN")) {
      Result<uint64_t> m = env_number(getenv, "SLURM_ARRAY_TASK_MIN", why);
      if (!m) return m.error();
      if (*m > *id) {
        return Error(fmt::format("SLURM_ARRAY_TASK_ID={} is below SLURM_ARRAY_TASK_MIN={}", *id, *m), ErrorKind::invalid_argument);
      }
      min = *m;
    }
    // --array=0-30:10 numbers its tasks 0, 10, 20, 30.
    if (getenv("SLURM_ARRAY_TASK_STEP")) {
      Result<uint64_t> st = env_number(getenv, "SLURM_ARRAY_TASK_STEP", why);
      if (!st) return st.error();
      if (*st == 0 || (*id - min) % *st != 0) {
        return Error(fmt::format("SLURM_ARRAY_TASK_ID={} is not SLURM_ARRAY_TASK_MIN={} plus a multiple of "
                                 "SLURM_ARRAY_TASK_STEP={}",
                                 *id, min, *st),
                     ErrorKind::invalid_argument);
      }
      step = *st;
    }
    return check(Shard{(*id - min) / step, *count, "SLURM_ARRAY_TASK_ID"},
                 "(SLURM_ARRAY_TASK_ID - SLURM_ARRAY_TASK_MIN) / SLURM_ARRAY_TASK_STEP", "SLURM_ARRAY_TASK_COUNT");
  }
  if (getenv("JOB_COMPLETION_INDEX")) {
    const char* why = "a Kubernetes indexed job's shard; set SPARQ_SHARD_COUNT to the job's completions";
    Result<uint64_t> index = env_number(getenv, "JOB_COMPLETION_INDEX", why);
    if (!index) return index.error();
    Result<uint64_t> count = env_number(getenv, "SPARQ_SHARD_COUNT", why);
    if (!count) return count.error();
    return check(Shard{*index, *count, "JOB_COMPLETION_INDEX"}, "JOB_COMPLETION_INDEX", "SPARQ_SHARD_COUNT");
  }
  return Shard{};
}

std::string expand_shard_path(const std::string& path, const Shard& shard) {
  std::string out;
  constexpr std::string_view kPlaceholder = "{shard}";
  for (size_t i = 0; i < path.size();) {
    if (path.compare(i, kPlaceholder.size(), kPlaceholder) == 0) {
      out += std::to_string(shard.index);
      i += kPlaceholder.size();
    } else {
      out += path[i++];
    }
  }
  return out;
}

}  // namespace sparq::runtime
