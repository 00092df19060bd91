// --config files, as `ebm train` and `ebm sample` read them: every key and value goes through
// the same conversions and checks as the command line.
#include "harness.hpp"

#include "../src/cli/commands.hpp"

#include <fstream>
#include <sstream>

namespace {

// Building the two commands' parsers costs more than parsing an input: build them once, and
// clear the parse results before each input. Options' bound values may keep an earlier input's
// value, which no check reads: apply_json_options looks at counts, and each value is converted
// anew from the JSON.
struct Commands {
  CLI::App app{"ebm"};
  ebm::cli::Context ctx;
  Commands() {
    ebm::cli::add_train(app, ctx);
    ebm::cli::add_sample(app, ctx);
  }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static Commands commands;
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (const char* command : {"train", "sample"}) {
    commands.app.clear();
    CLI::App* sub = commands.app.get_subcommand(command);
    try {
      nlohmann::json object = nlohmann::json::parse(text);
      ebm::cli::apply_json_options(sub, object, "fuzz.json");
    } catch (const nlohmann::json::exception&) {  // not JSON: the CLI's FormatError path
    } catch (const ebm::Error&) {
    }
  }
  return 0;
}
