#!/usr/bin/env bash
# Exports the public code bases pinned in corpus.tsv, each at its commit, for reading and analysing them
# (docs/real-code.md). Never commit what it writes.
#
#   tools/real-code/fetch.sh [NAME...]        # all code bases, or the named ones
#
# Where a copy comes from:
#   REAL_CODE_MIRRORS=DIR  a folder of git mirrors, one per repository, as DIR/<owner>+<name>/repo (bare or not)
#                          or DIR/<owner>/<name>(.git); nothing is downloaded
#   otherwise              git clone --bare https://github.com/<owner>/<name> into $REAL_CODE_WORK/clones
# Where it goes: $REAL_CODE_WORK/src/<name> (default /tmp/noblock-real-code/src), outside this repository so that
# NoBlock's own Directory.Build.props, Directory.Packages.props and nuget.config never apply to those sources.
# bin/ and obj/ folders that some repositories commit are left out. Prints "<name><TAB><folder>" per code base.
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
work=${REAL_CODE_WORK:-/tmp/noblock-real-code}
case $work/ in "$root"/*) echo "REAL_CODE_WORK must be outside $root" >&2; exit 2 ;; esac

names=()
for arg in "$@"; do
  case $arg in
    -h|--help) sed -n '2,15p' "$0"; exit 0 ;;
    -*) echo "unknown option: $arg" >&2; exit 2 ;;
    *) names+=("$arg") ;;
  esac
done

mirror_of() { # mirror_of OWNER/NAME -> prints a git directory holding the repository, cloning it if needed
  local repo=$1 owner=${1%%/*} name=${1#*/}
  if [ -n "${REAL_CODE_MIRRORS:-}" ]; then
    local c
    for c in "$REAL_CODE_MIRRORS/$owner+$name/repo/.git" "$REAL_CODE_MIRRORS/$owner+$name/repo" \
             "$REAL_CODE_MIRRORS/$owner/$name.git" "$REAL_CODE_MIRRORS/$owner/$name/.git" "$REAL_CODE_MIRRORS/$owner/$name"; do
      if git --git-dir="$c" rev-parse --git-dir >/dev/null 2>&1; then echo "$c"; return 0; fi
    done
    echo "no mirror of $repo under REAL_CODE_MIRRORS=$REAL_CODE_MIRRORS" >&2; return 1
  fi
  local clone="$work/clones/$owner+$name.git"
  if [ ! -d "$clone" ]; then
    mkdir -p "$work/clones"
    git clone --quiet --bare --filter=blob:none "https://github.com/$repo" "$clone" >&2 || return 1
  fi
  echo "$clone"
}

export_commit() { # export_commit GITDIR COMMIT DEST
  local gitdir=$1 commit=$2 dest=$3 index rc
  git --git-dir="$gitdir" cat-file -e "$commit^{commit}" 2>/dev/null ||
    git --git-dir="$gitdir" fetch --quiet origin "$commit" || { echo "commit $commit is not in $gitdir" >&2; return 1; }
  rm -rf "$dest" && mkdir -p "$dest"
  # A private index and checkout-index rather than git archive: a mirror may lack the blobs of committed bin/
  # folders (large files), and git archive reads every blob of the tree.
  index=$(mktemp)
  GIT_INDEX_FILE=$index git --git-dir="$gitdir" read-tree "$commit" &&
  GIT_INDEX_FILE=$index git --git-dir="$gitdir" ls-files -z | grep -zvE '(^|/)(bin|obj)/' |
    GIT_INDEX_FILE=$index xargs -0 git --git-dir="$gitdir" checkout-index --prefix="$dest/" --
  rc=$?
  rm -f "$index"
  return $rc
}

status=0
while IFS=$'\t' read -r name repo commit _; do
  case $name in ''|'#'*) continue ;; esac
  if [ ${#names[@]} -gt 0 ] && [[ ! " ${names[*]} " == *" $name "* ]]; then continue; fi
  echo "::: $name ($repo @ ${commit:0:12})" >&2
  dest="$work/src/$name"
  if gitdir=$(mirror_of "$repo") && export_commit "$gitdir" "$commit" "$dest"; then
    printf '%s\t%s\n' "$name" "$dest"
  else
    echo "::: $name: no sources" >&2; status=1
  fi
done <"$here/corpus.tsv"
exit $status
