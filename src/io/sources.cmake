# The io layer: safetensors files and MLP model files (needs core, and energy's Mlp).
target_sources(ebm PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/safetensors.cpp
  ${CMAKE_CURRENT_LIST_DIR}/model_file.cpp)
