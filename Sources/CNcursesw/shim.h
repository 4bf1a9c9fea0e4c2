// ncursesw for the live view (-w). Only SockscopeTUI's terminal layer imports this module;
// the macros and globals Swift cannot use are wrapped in CCursesShim.
#include <curses.h>
