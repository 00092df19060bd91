// The ebm command. Errors become one line on stderr: exit 2 for usage errors, 1 otherwise.
#include "commands.hpp"

#include <ebm/core/error.hpp>

#include <CLI/CLI.hpp>

#include <exception>
#include <iostream>

int main(int argc, char** argv) {
  CLI::App app{"ebm: energy-based generative models — learn, score, sample, evaluate"};
  app.name("ebm");
  app.set_version_flag("--version", std::string("ebm ") + EBM_VERSION);
  app.require_subcommand(0, 1);
  ebm::cli::add_bench(app);
  try {
    app.parse(argc, argv);
    if (app.get_subcommands().empty()) {
      std::cout << app.help();
      return 0;
    }
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "ebm: " << e.what() << "\n";
    return 2;
  } catch (const ebm::InvalidArgument& e) {
    std::cerr << "ebm: " << e.what() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "ebm: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
