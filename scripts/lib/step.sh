# step NAME COMMAND...: runs COMMAND between two lines naming it, the second
# with the seconds it took (the proof scripts' timings). Sourced.
step() {
  local name=$1 from=$SECONDS
  shift
  echo "--- $name"
  "$@"
  echo "--- $name: $((SECONDS - from)) s"
}
