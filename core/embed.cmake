# Turns the file IN into a C source OUT defining `const char NAME[]` with its bytes and a NUL.
file(READ ${IN} hex HEX)
string(REGEX REPLACE "(..)" "0x\\1," bytes "${hex}")
file(WRITE ${OUT} "/* generated from ${IN_NAME} by embed.cmake */\nextern const char ${NAME}[];\nconst char ${NAME}[] = {${bytes} 0};\n")
