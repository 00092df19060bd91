#!/usr/bin/env Rscript
# Stan NUTS reference for ebm's sampler benchmark: one JSON line per target on stdout.
# Usage: Rscript bench/stan/stan_peer.R [--warmup 1000] [--draws 1000] [--chains 4]
#          [--seed 1] [--targets banana,gauss100,funnel10,logistic] [--metric diag_e|dense_e]
# Compiled models are cached in $HOME/.cache/ebm-stan (keyed by model code + rstan version).
# All chatter (compiler, Stan) goes to stderr; stdout carries only the JSON lines.

real_stdout <- stdout()
sink(stderr())  # R-level output (rstan messages, prints) -> stderr

opts <- list(warmup = 1000, draws = 1000, chains = 4, seed = 1,
             targets = "banana,gauss100,funnel10,logistic", metric = "diag_e")
args <- commandArgs(trailingOnly = TRUE)
compile_only <- NULL  # internal: `--compile <target>` compiles one model into the cache
if (length(args) == 2 && args[1] == "--compile") { compile_only <- args[2]; args <- character() }
if (length(args) %% 2 != 0) stop("arguments must be --name value pairs")
for (k in seq(1, by = 2, length.out = length(args) / 2)) {
  name <- sub("^--", "", args[k])
  if (!name %in% names(opts)) stop("unknown option: ", args[k])
  opts[[name]] <- if (is.numeric(opts[[name]])) as.integer(args[k + 1]) else args[k + 1]
}
if (!opts$metric %in% c("diag_e", "dense_e")) stop("--metric must be diag_e or dense_e")
targets <- strsplit(opts$targets, ",")[[1]]

suppressPackageStartupMessages({ library(rstan); library(posterior) })
rstan_options(auto_write = FALSE)  # we cache ourselves, outside the source tree

script_dir <- local({
  f <- sub("^--file=", "", grep("^--file=", commandArgs(FALSE), value = TRUE))
  if (length(f) == 1) dirname(normalizePath(f)) else getwd()
})
cache_dir <- file.path(Sys.getenv("HOME"), ".cache", "ebm-stan")
dir.create(cache_dir, recursive = TRUE, showWarnings = FALSE)
# Debian's r-cran-bh is an empty shim around libboost-dev; point rstan at the system
# Boost through a dir holding only a `boost` symlink (a bare -I/usr/include breaks g++).
if (!file.exists(rstan_options("boost_lib")) && dir.exists("/usr/include/boost")) {
  boost_dir <- file.path(cache_dir, "boost_include")
  dir.create(boost_dir, showWarnings = FALSE)
  if (!file.exists(file.path(boost_dir, "boost")))
    file.symlink("/usr/include/boost", file.path(boost_dir, "boost"))
  rstan_options(boost_lib = boost_dir)
}

model_rds <- function(target) {
  code <- paste(readLines(file.path(script_dir, paste0(target, ".stan"))), collapse = "\n")
  key <- digest::digest(paste(code, packageVersion("rstan")), algo = "md5", serialize = FALSE)
  list(code = code, rds = file.path(cache_dir, paste0(target, "-", key, ".rds")))
}

# Compiling several models inside one R session segfaults (rstan 2.21.7, Debian 12), so
# each uncached model is compiled by a child Rscript (`--compile <target>`) and loaded here.
compile_model <- function(target) {
  m <- model_rds(target)
  if (!file.exists(m$rds)) {
    t0 <- proc.time()[["elapsed"]]
    rc <- system2(file.path(R.home("bin"), "Rscript"),
                  c(shQuote(file.path(script_dir, "stan_peer.R")), "--compile", target, "1>&2"))
    if (rc != 0 || !file.exists(m$rds)) stop("compiling ", target, " failed")
    message(sprintf("[%s] compiled in %.1f s -> %s", target, proc.time()[["elapsed"]] - t0, m$rds))
  } else message(sprintf("[%s] using cached model %s", target, m$rds))
  readRDS(m$rds)
}

if (!is.null(compile_only)) {
  m <- model_rds(compile_only)
  saveRDS(stan_model(model_code = m$code, model_name = compile_only, verbose = FALSE), m$rds)
  quit(save = "no")
}

model_data <- function(target) {
  if (target != "logistic") return(list())
  d <- read.csv(file.path(script_dir, "breast_cancer.csv"))
  X <- as.matrix(d[, -1])
  list(N = nrow(X), K = ncol(X), X = X, y = as.numeric(d$y))
}

dims <- c(banana = 2, gauss100 = 100, funnel10 = 10, logistic = 31)

run_target <- function(target) {
  if (!target %in% names(dims)) stop("unknown target: ", target)
  sm <- compile_model(target)
  W <- opts$warmup; N <- opts$draws; C <- opts$chains
  fit <- sampling(sm, data = model_data(target), chains = C, cores = 1,
                  warmup = W, iter = W + N, seed = opts$seed, refresh = 0,
                  control = list(adapt_delta = 0.8, metric = opts$metric))

  sp_all <- get_sampler_params(fit, inc_warmup = TRUE)      # list over chains
  kept <- lapply(sp_all, function(m) m[(W + 1):(W + N), , drop = FALSE])
  col <- function(lst, name) unlist(lapply(lst, function(m) m[, name]))
  el <- get_elapsed_time(fit)                                # chains x (warmup, sample)

  draws <- as.array(fit)                                     # iterations x chains x params
  pars <- setdiff(dimnames(draws)[[3]], "lp__")
  ess_b <- sapply(pars, function(p) ess_bulk(draws[, , p, drop = TRUE]))
  ess_t <- sapply(pars, function(p) ess_tail(draws[, , p, drop = TRUE]))
  ebfmi <- sapply(kept, function(m) { E <- m[, "energy__"]; sum(diff(E)^2) / sum((E - mean(E))^2) })
  means <- sapply(pars[seq_len(min(5, length(pars)))], function(p) mean(draws[, , p]))

  list(impl = "stan", target = target, dim = length(pars), chains = C, warmup = W,
       draws = N, metric = opts$metric,
       grad_evals_sampling = sum(col(kept, "n_leapfrog__")),
       grad_evals_total = sum(col(sp_all, "n_leapfrog__")),
       seconds_sampling = sum(el[, "sample"]), seconds_warmup = sum(el[, "warmup"]),
       ess_bulk_min = min(ess_b), ess_tail_min = min(ess_t),
       ess_bulk_median = median(ess_b), ess_tail_median = median(ess_t),
       divergences = sum(col(kept, "divergent__")),
       mean_tree_depth = mean(col(kept, "treedepth__")),
       step_size_mean = mean(col(kept, "stepsize__")),
       ebfmi_min = min(ebfmi), means = I(unname(means)))
}

for (target in targets) {
  res <- run_target(target)
  line <- jsonlite::toJSON(res, auto_unbox = TRUE, digits = NA)
  cat(line, "\n", sep = "", file = real_stdout)
  flush(real_stdout)
}
