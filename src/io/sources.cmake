# The io layer: safetensors files and MLP model files (needs core, energy for the Mlp, train for checkpoint state).
target_sources(ebm PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/safetensors.cpp
  ${CMAKE_CURRENT_LIST_DIR}/model_file.cpp
  ${CMAKE_CURRENT_LIST_DIR}/checkpoint.cpp)
