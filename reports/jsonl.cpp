// results.jsonl: the append-only, crash-safe log of finished combinations, and its --resume reader.
#include "reports/jsonl.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>

#include "kernels/common/bounded_json.hpp"
#include "kernels/common/errors.hpp"
#include "reports/file_io.hpp"
#include "reports/gzip_file.hpp"
#include "reports/json_io.hpp"

namespace mxg::report {

std::string format_result_line(const CombinationResult& r) {
  Json line = Json::object();
  line["schema"] = std::string(kResultSchema);
  const Json fields = r;  // named: a temporary in the range-for init would die before the loop runs
  for (const auto& [key, value] : fields.items()) line[key] = value;
  // dump() escapes '\n' inside strings, so a record can never span two lines.
  return dump_json(line) + "\n";
}

CombinationResult parse_result_line(std::string_view line) {
  Json j;
  j = json_read::parse_ordered(line, "line");  // bounded depth, size, duplicate keys
  if (!j.is_object()) throw InputError(fmt::format("expected a JSON object, got {}", j.type_name()));
  const auto schema = j.find("schema");
  if (schema == j.end() || !schema->is_string() || schema->get<std::string>() != kResultSchema) {
    throw InputError(fmt::format("field 'schema': expected '{}', got {}", kResultSchema,
                                 schema == j.end() ? std::string("nothing") : dump_json(*schema)));
  }
  return j.get<CombinationResult>();
}

namespace {
// A line is complete JSON for a record; used to tell a torn fragment from a record missing its '\n'.
bool is_complete_record(std::string_view line) {
  try {
    (void)parse_result_line(line);
    return true;
  } catch (const InputError&) {
    return false;
  }
}

std::string_view strip_cr(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

bool is_blank(std::string_view line) { return line.find_first_not_of(" \t\r") == std::string_view::npos; }
}  // namespace

ResultsLog::ResultsLog(std::filesystem::path path) : path_(std::move(path)) {
  const bool existed = std::filesystem::exists(path_);
  fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
  if (fd_ < 0) {
    throw InputError(fmt::format("{}: cannot open for appending: {}", path_.string(), std::strerror(errno)));
  }
  try {
    repair_tail();
    if (!existed) sync_parent_dir(path_);
  } catch (...) {
    ::close(fd_);
    throw;
  }
}

ResultsLog::~ResultsLog() {
  if (fd_ >= 0) ::close(fd_);
}

void ResultsLog::repair_tail() {
  repair_note_ = repair_log_tail(fd_, path_, is_complete_record);
}

std::string repair_log_tail(int fd, const std::filesystem::path& path,
                            const std::function<bool(std::string_view line)>& is_complete) {
  // Logs are read once at open, so reading the file whole keeps this simple.
  const std::string bytes = read_file(path);
  if (bytes.empty() || bytes.back() == '\n') return "";
  const std::size_t last_newline = bytes.rfind('\n');
  const std::size_t tail_start = last_newline == std::string::npos ? 0 : last_newline + 1;
  const std::string_view tail = std::string_view(bytes).substr(tail_start);
  std::string note;
  if (is_complete(strip_cr(tail))) {
    write_all(fd, "\n", path);
    note = fmt::format("{}: terminated a complete last record that lacked its newline", path.string());
  } else {
    if (::ftruncate(fd, static_cast<off_t>(tail_start)) != 0) {
      throw InfraError(fmt::format("{}: cannot cut off torn last line: {}", path.string(), std::strerror(errno)));
    }
    note = fmt::format("{}: cut off a torn last line of {} bytes (an interrupted write)", path.string(), tail.size());
  }
  sync_fd(fd, path);
  return note;
}

void ResultsLog::append(const CombinationResult& r) {
  // One write() of the whole line: O_APPEND places it at the end as a unit.
  write_all(fd_, format_result_line(r), path_);
  sync_fd(fd_, path_);
}

void read_log_lines(const std::filesystem::path& path, std::string_view record_kind,
                    const std::function<void(std::string_view line)>& parse_and_keep,
                    std::vector<std::string>& warnings) {
  // Streamed (a nightly shard's log holds hundreds of thousands of lines), plain or gzip alike.
  std::int64_t line_number = 0;
  bool stopped = false;  // a torn last line ends the reading
  auto one_line = [&](std::string_view raw, bool terminated) {
    ++line_number;
    const std::string_view line = strip_cr(raw);
    if (is_blank(line)) return;
    try {
      parse_and_keep(line);
    } catch (const InputError& e) {
      if (!terminated) {
        warnings.push_back(fmt::format("{}:{}: ignoring torn last line ({} bytes, no newline): {}", path.string(),
                                       line_number, line.size(), e.what()));
        stopped = true;
        return;
      }
      throw InputError(fmt::format("{}:{}: malformed {}: {}", path.string(), line_number, record_kind, e.what()));
    }
  };
  std::string pending;  // the start of a line whose '\n' is in a later chunk
  read_maybe_gzip(path, [&](std::string_view chunk) {
    while (!chunk.empty()) {
      const std::size_t newline = chunk.find('\n');
      if (newline == std::string_view::npos) {
        pending.append(chunk);
        return;
      }
      if (pending.empty()) {
        one_line(chunk.substr(0, newline), true);
      } else {
        pending.append(chunk.substr(0, newline));
        one_line(pending, true);
        pending.clear();
      }
      chunk.remove_prefix(newline + 1);
    }
  });
  if (!stopped && !pending.empty()) one_line(pending, false);
}

LoadedResults load_results_jsonl(const std::filesystem::path& path) {
  LoadedResults loaded;
  read_log_lines(
      path, "result record", [&](std::string_view line) { loaded.results.push_back(parse_result_line(line)); },
      loaded.warnings);
  return loaded;
}

}  // namespace mxg::report
