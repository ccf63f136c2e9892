#include "support/process.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <thread>

extern char** environ;

namespace kubemetrics::testing {
namespace {

std::vector<char*> cStrings(std::vector<std::string>& strings) {
  std::vector<char*> out;
  for (std::string& s : strings) out.push_back(s.data());
  out.push_back(nullptr);
  return out;
}

pid_t spawn(std::vector<std::string> argv, std::vector<std::string> env,
            const std::string& output_path, const std::string& stdin_path) {
  std::vector<std::string> environment;
  for (char** e = environ; *e; ++e) environment.emplace_back(*e);
  for (std::string& extra : env) {
    // An extra setting replaces the inherited one of the same name.
    const std::string key = extra.substr(0, extra.find('=') + 1);
    std::erase_if(environment, [&](const std::string& e) { return e.rfind(key, 0) == 0; });
    environment.push_back(std::move(extra));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(
      &actions, 0, stdin_path.empty() ? "/dev/null" : stdin_path.c_str(), O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&actions, 1, output_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC,
                                   0644);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  auto args = cStrings(argv);
  auto envp = cStrings(environment);
  pid_t pid = -1;
  if (posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), envp.data()) != 0) pid = -1;
  posix_spawn_file_actions_destroy(&actions);
  return pid;
}

std::string readAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

std::optional<int> waitPid(pid_t pid, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    int status = 0;
    const pid_t r = waitpid(pid, &status, WNOHANG);
    if (r == pid) {
      if (WIFEXITED(status)) return WEXITSTATUS(status);
      if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
      return -1;
    }
    if (r < 0) return -1;
    if (std::chrono::steady_clock::now() >= until) return std::nullopt;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
}

std::string tempPath(const std::string& stem) {
  std::string pattern = (std::filesystem::temp_directory_path() / (stem + "XXXXXX")).string();
  const int fd = mkstemp(pattern.data());
  if (fd >= 0) close(fd);
  return pattern;
}

}  // namespace

Process::Process(std::vector<std::string> argv, std::vector<std::string> env)
    : output_path_(tempPath("km-process-")) {
  pid_ = spawn(std::move(argv), std::move(env), output_path_, "");
}

Process::~Process() {
  if (pid_ > 0 && !exit_code_) {
    kill(pid_, SIGKILL);
    waitPid(pid_, std::chrono::seconds(10));
  }
  std::remove(output_path_.c_str());
}

std::string Process::output() const { return readAll(output_path_); }

bool Process::waitForOutput(const std::string& text, std::chrono::milliseconds timeout) {
  const auto until = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < until) {
    if (output().find(text) != std::string::npos) return true;
    if (!exit_code_) exit_code_ = waitPid(pid_, std::chrono::milliseconds(0));
    if (exit_code_) return output().find(text) != std::string::npos;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return false;
}

void Process::signal(int signo) {
  if (pid_ > 0 && !exit_code_) kill(pid_, signo);
}

std::optional<int> Process::wait(std::chrono::milliseconds timeout) {
  if (!exit_code_ && pid_ > 0) exit_code_ = waitPid(pid_, timeout);
  return exit_code_;
}

CommandResult runCommand(std::vector<std::string> argv, const std::string& stdin_text,
                         std::chrono::milliseconds timeout) {
  const std::string input = tempPath("km-stdin-");
  { std::ofstream(input, std::ios::binary) << stdin_text; }
  const std::string output = tempPath("km-output-");
  CommandResult result;
  const pid_t pid = spawn(std::move(argv), {}, output, input);
  if (pid > 0) {
    auto code = waitPid(pid, timeout);
    if (!code) {
      kill(pid, SIGKILL);
      waitPid(pid, std::chrono::seconds(10));
    }
    result.exit_code = code.value_or(-1);
  }
  result.output = readAll(output);
  std::remove(input.c_str());
  std::remove(output.c_str());
  return result;
}

namespace {

// The kernel's ephemeral range (outgoing connections, bind to port 0), so
// that a reserved port is never handed to another socket meanwhile.
std::pair<int, int> ephemeralPortRange() {
  std::ifstream in("/proc/sys/net/ipv4/ip_local_port_range");
  int low = 32768;
  int high = 60999;
  in >> low >> high;
  return {low, high};
}

bool bindsOnLoopback(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  const bool ok = bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

// Holds an exclusive lock on a file named after `port` for the rest of this
// process (the descriptor is never closed; the kernel drops the lock when
// the process ends, however it ends), so concurrent test processes never
// reserve the same port.
bool lockPortForThisProcess(int port) {
  static const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / "kubemetrics-test-ports";
  std::error_code ignored;
  std::filesystem::create_directories(dir, ignored);
  const std::string path = (dir / std::to_string(port)).string();
  const int fd = open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
  if (fd < 0) return false;
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    close(fd);
    return false;
  }
  return true;
}

}  // namespace

int freeLoopbackPort() {
  // A port from the kernel's ephemeral range, free a moment ago, can be
  // taken by any outgoing connection before the peer (VictoriaMetrics
  // started seconds later) binds it; ctest runs tests in parallel, so it
  // happens. Ports below that range are never handed out by the kernel,
  // and the lock file keeps two test processes from picking the same one.
  auto [low, high] = ephemeralPortRange();
  const bool below = low > 12000;
  const int first = below ? 10000 : high + 1;
  const int count = below ? low - first : 65535 - high;
  if (count <= 0) return -1;
  static thread_local std::minstd_rand random(
      static_cast<unsigned>(getpid()) * 7919u +
      static_cast<unsigned>(std::chrono::steady_clock::now().time_since_epoch().count()));
  const int start = static_cast<int>(random() % static_cast<unsigned>(count));
  for (int i = 0; i < count; ++i) {
    const int port = first + (start + i) % count;
    if (lockPortForThisProcess(port) && bindsOnLoopback(port)) return port;
  }
  return -1;
}

TempDir::TempDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "km-test-XXXXXX").string();
  path_ = mkdtemp(pattern.data()) ? pattern : std::string();
}

TempDir::~TempDir() {
  std::error_code ignored;
  if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
}

std::string TempDir::write(const std::string& name, const std::string& content) const {
  const std::string file = path_ + "/" + name;
  std::ofstream(file, std::ios::binary) << content;
  return file;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

long procStatusKib(pid_t pid, const std::string& field) {
  std::istringstream status(readFile("/proc/" + std::to_string(pid) + "/status"));
  const std::string prefix = field + ":";
  for (std::string line; std::getline(status, line);) {
    if (line.rfind(prefix, 0) == 0) return std::stol(line.substr(prefix.size()));
  }
  return -1;
}

}  // namespace kubemetrics::testing
